-- One schema for SQLite, PostgreSQL and MySQL/MariaDB: identifiers are random strings made by the
-- service (no dialect's auto-increment), timestamps are written by the service in UTC. The
-- TIMESTAMP columns are declared NULL because MySQL gives a NOT NULL TIMESTAMP without a default an
-- implicit ON UPDATE CURRENT_TIMESTAMP when explicit_defaults_for_timestamp is off.
CREATE TABLE tickets (
    id VARCHAR(32) NOT NULL PRIMARY KEY,
    name VARCHAR(200) NOT NULL,
    email VARCHAR(320) NOT NULL,
    subject VARCHAR(200) NOT NULL,
    status VARCHAR(16) NOT NULL,
    locale VARCHAR(16) NOT NULL,
    created_at TIMESTAMP(6) NULL,
    updated_at TIMESTAMP(6) NULL
);

CREATE INDEX tickets_created_at ON tickets (created_at, id);

CREATE TABLE messages (
    id VARCHAR(32) NOT NULL PRIMARY KEY,
    ticket_id VARCHAR(32) NOT NULL REFERENCES tickets (id),
    author VARCHAR(16) NOT NULL,
    body TEXT NOT NULL,
    created_at TIMESTAMP(6) NULL
);

CREATE INDEX messages_ticket ON messages (ticket_id, created_at);

CREATE TABLE attachments (
    id VARCHAR(32) NOT NULL PRIMARY KEY,
    ticket_id VARCHAR(32) NOT NULL REFERENCES tickets (id),
    storage_name VARCHAR(255) NOT NULL,
    file_name VARCHAR(255) NOT NULL,
    content_type VARCHAR(255) NOT NULL,
    size BIGINT NOT NULL,
    created_at TIMESTAMP(6) NULL
);

CREATE INDEX attachments_ticket ON attachments (ticket_id);
