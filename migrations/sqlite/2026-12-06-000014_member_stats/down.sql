DROP INDEX campaign_members_stats;
