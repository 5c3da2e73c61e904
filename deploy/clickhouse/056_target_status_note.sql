-- target_status in a store made before targets said in words why a value was missing.
ALTER TABLE {db}.target_status ADD COLUMN IF NOT EXISTS note String DEFAULT '' AFTER on_track
