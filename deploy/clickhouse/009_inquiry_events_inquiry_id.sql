-- inquiry_events in a store made before events carried the id their inquiry's events share.
ALTER TABLE {db}.inquiry_events ADD COLUMN IF NOT EXISTS inquiry_id Nullable(FixedString(32)) AFTER event_id
