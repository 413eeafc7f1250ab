DROP TABLE campaign_member_history;
DROP TABLE campaign_members;
DROP TABLE campaign_costs;
DROP TABLE campaigns;
DROP TABLE segment_members;
DROP TABLE segments;
ALTER TABLE contacts DROP COLUMN marketing_opt_out;
ALTER TABLE contacts DROP COLUMN do_not_mail;
