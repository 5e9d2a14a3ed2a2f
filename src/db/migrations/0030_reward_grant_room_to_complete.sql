-- A grant with a cause is written twice in its statement: claimed (the row with its cause, so a
-- concurrent request with the same cause waits for it), then completed (status, payload, stock
-- slots). The completion changes no indexed column, so it can be a HOT update, which adds no
-- index entries, but only when the new row version fits on the same page. With every page
-- filled to 100% by the inserts before it, most completions landed on another page and added an
-- entry to each of the table's six indexes. Leaving a fifth of each page free for them keeps the
-- completion on its page.
alter table reward_grant set (fillfactor = 80);
