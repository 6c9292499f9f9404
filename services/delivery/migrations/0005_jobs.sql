-- Delivery jobs (DeliverMessageV1) beside notification plans: a plan is its own job (job_id = plan_id).
-- Rows and records are found by their job; plan_id stays the plan a route belongs to ('' when a
-- job's target concerns none); source is the job's family (connector_delivery_source).
ALTER TABLE deliveries ADD COLUMN job_id text;
UPDATE deliveries SET job_id = plan_id;
ALTER TABLE deliveries ALTER COLUMN job_id SET NOT NULL;
ALTER TABLE deliveries ADD COLUMN source text NOT NULL DEFAULT 'go_backend_rollback_drill_notification';
DROP INDEX IF EXISTS deliveries_plan;
CREATE INDEX deliveries_job ON deliveries (job_id);

-- A record's plan_id column is set for a plan's record only (NULL for other jobs: the document
-- names the plan); it stays unique, and the job id is unique too.
ALTER TABLE delivery_records ADD COLUMN job_id text;
UPDATE delivery_records SET job_id = plan_id;
ALTER TABLE delivery_records ALTER COLUMN job_id SET NOT NULL;
ALTER TABLE delivery_records ADD CONSTRAINT delivery_records_job_id_key UNIQUE (job_id);
ALTER TABLE delivery_records ALTER COLUMN plan_id DROP NOT NULL;

-- During a rolling deploy a replica of the previous release writes plans without a job id (and
-- without a source: the default above): its plan is its job. The WHEN clause is checked before
-- the function is called, so rows that name their job pay nothing.
CREATE FUNCTION job_of_plan() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.job_id := NEW.plan_id;
    RETURN NEW;
END
$$;
CREATE TRIGGER deliveries_job_of_plan BEFORE INSERT ON deliveries
    FOR EACH ROW WHEN (NEW.job_id IS NULL) EXECUTE FUNCTION job_of_plan();
CREATE TRIGGER delivery_records_job_of_plan BEFORE INSERT ON delivery_records
    FOR EACH ROW WHEN (NEW.job_id IS NULL) EXECUTE FUNCTION job_of_plan();

-- redaction_alarms.plan_id holds the job id (a plan's id for a plan), as the previous release writes it.
