-- A minimal service schema for proving the runtime's delivery guarantees.
CREATE TABLE entries (
    message_id text PRIMARY KEY,
    value      integer NOT NULL
);
