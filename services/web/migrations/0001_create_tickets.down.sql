DROP TABLE attachments;
DROP TABLE messages;
DROP TABLE tickets;
