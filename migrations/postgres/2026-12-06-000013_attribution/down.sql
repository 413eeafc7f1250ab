DROP TABLE campaign_attributions;
