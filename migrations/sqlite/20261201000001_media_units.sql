-- What media requests are billed by (SQLite): characters spoken, and the images' size and
-- quality, beside the images and audio milliseconds the first schema already keeps.
-- Rows written before this migration read as 0 characters and no size or quality.

ALTER TABLE usage_events ADD COLUMN image_size TEXT NOT NULL DEFAULT '';
ALTER TABLE usage_events ADD COLUMN image_quality TEXT NOT NULL DEFAULT '';
ALTER TABLE usage_events ADD COLUMN characters INTEGER NOT NULL DEFAULT 0;
ALTER TABLE usage_daily ADD COLUMN characters INTEGER NOT NULL DEFAULT 0;
