-- ringfence schema, version 30: time zone names checked from a table
-- (issue 13).
-- phase: expand
--
--   rf_time_zone_names           the names of pg_timezone_names, one row
--                                each: a primary key lookup instead of
--                                reading the view, which scans the whole
--                                tz database on every call (65-130 ms).
--   rf_refresh_time_zone_names() makes the table equal to
--                                pg_timezone_names again; this file runs
--                                it once and `ringfence migrate` after
--                                every run (tzdata is updated with the
--                                operating system, not with ringfence).
--   rf_valid_time_zone(tz)       same signature, volatility and verdicts
--                                as in 001: the CHECK constraints on
--                                businesses and clients keep calling it.
--
-- Expand only: a new table, a new function and a function restated with
-- the same answers.

CREATE TABLE rf_time_zone_names (
    name text PRIMARY KEY
);

CREATE FUNCTION rf_refresh_time_zone_names() RETURNS integer
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    names text[];
    added integer;
    removed integer;
BEGIN
    -- The view is read once: each read scans the tz database.
    SELECT array_agg(name) INTO names FROM pg_timezone_names;
    INSERT INTO rf_time_zone_names (name)
    SELECT n FROM unnest(names) n
    ON CONFLICT (name) DO NOTHING;
    GET DIAGNOSTICS added = ROW_COUNT;
    DELETE FROM rf_time_zone_names WHERE name <> ALL (names);
    GET DIAGNOSTICS removed = ROW_COUNT;
    RETURN added + removed;
END;
$$;

SELECT rf_refresh_time_zone_names();

-- search_path is fixed to the one the migration runs with: pg_restore
-- runs with an empty search_path and the CHECK constraints call this
-- function for every restored row, which must still find the table.
CREATE OR REPLACE FUNCTION rf_valid_time_zone(tz text) RETURNS boolean
LANGUAGE plpgsql STABLE
SET search_path FROM CURRENT
AS $$
BEGIN
    IF tz IS NULL OR tz = '' OR length(tz) > 64 THEN
        RETURN false;
    END IF;
    -- Exact (case-sensitive) match, as pg_timezone_names was matched.
    PERFORM 1 FROM rf_time_zone_names WHERE name = tz;
    IF FOUND THEN
        RETURN true;
    END IF;
    -- Not in the table: still the verdict of 001.  The table is a copy
    -- made at the last migrate run; a zone that a tzdata update added
    -- since then (or a table not loaded yet, as during a restore) must
    -- not be refused until the next run, so a name the table lacks is
    -- looked up in the view itself (slow, but only for these names and
    -- for invalid ones, which the AT TIME ZONE test refuses first).
    BEGIN
        PERFORM now() AT TIME ZONE tz;
        -- Only named zones: offsets such as '+05' or POSIX strings would
        -- hide daylight-saving changes.
        RETURN EXISTS (SELECT 1 FROM pg_timezone_names WHERE name = tz);
    EXCEPTION WHEN OTHERS THEN
        RETURN false;
    END;
END;
$$;
