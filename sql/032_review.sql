-- ringfence schema, version 32: a call's final status is kept (issue 13
-- review).
-- phase: expand
--
--   calls_final_status   a call whose call_status is final (completed,
--                        busy, failed, no-answer, canceled) keeps it.  A
--                        voice webhook carries CallStatus "in-progress"
--                        and its transition writes it on the call
--                        (rf_voice_step, engine.c's action transitions);
--                        when the call's final status callback was served
--                        first (the two raced on two workers), the call
--                        went back to "in-progress" and the dashboard
--                        showed a finished call as still going.  The
--                        press's transition itself is kept.  The WHEN
--                        clause is evaluated without calling the function:
--                        an update that leaves a final status alone, or of
--                        a call not yet final, costs nothing more.
--
-- Expand only: a new function and trigger; nothing an earlier release
-- writes is refused (the update goes through with the status kept).

CREATE FUNCTION rf_calls_keep_final_status() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.call_status := OLD.call_status;
    RETURN NEW;
END;
$$;

CREATE TRIGGER calls_final_status BEFORE UPDATE OF call_status ON calls
    FOR EACH ROW
    WHEN (OLD.call_status IN ('completed', 'busy', 'failed', 'no-answer', 'canceled')
        AND NEW.call_status IS DISTINCT FROM OLD.call_status)
    EXECUTE FUNCTION rf_calls_keep_final_status();
