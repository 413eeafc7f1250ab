DROP INDEX contacts_city_last_name_folded;
DROP INDEX contacts_phone;
DROP TABLE merges;
