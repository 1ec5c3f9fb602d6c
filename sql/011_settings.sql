-- ringfence schema, version 11: what a business changes on its settings
-- page beyond the businesses row itself.
--
-- message_wording: the two lines of the reminder text and email a
-- business may reword (include/wording.h).  The product checks a line
-- before storing it (wording_check); the constraints repeat the rule that
-- matters most, so that no other writer can store a line naming a field
-- outside the allow-list (DESIGN.md rule 10): once the allowed
-- placeholders are taken out, no brace may remain.  No row: the defaults.

CREATE TABLE message_wording (
    business_id     bigint PRIMARY KEY REFERENCES businesses(id) ON DELETE CASCADE,
    greeting        text NOT NULL
                    CHECK (char_length(greeting) BETWEEN 1 AND 160
                           AND greeting !~ '[[:cntrl:]]'
                           AND regexp_replace(greeting, '\{(business|date|time|callback)\}', '', 'g') !~ '[{}]'),
    closing         text NOT NULL
                    CHECK (char_length(closing) BETWEEN 1 AND 160
                           AND closing !~ '[[:cntrl:]]'
                           AND regexp_replace(closing, '\{(business|date|time|callback)\}', '', 'g') !~ '[{}]'),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
