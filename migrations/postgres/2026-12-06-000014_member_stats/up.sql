-- SQLite gets a covering index for a campaign's statistics here. PostgreSQL reads the same
-- GROUP BY well within its target without one (docs/PERFORMANCE.md), and another index on
-- campaign_members would slow materializing a campaign, which is near its own target there.
-- The migration stays so that both backends have the same list.
SELECT 1;
