-- Job claims stay fast under a backlog: the earliest due queued jobs come from this index in
-- `run_at` order, instead of sorting every due job on each claim.
CREATE INDEX jobs_queued_by_run_at ON jobs (run_at) WHERE state = 'queued';
-- Ordered jobs (one incident channel's messages) wait for the earlier jobs of their order;
-- this finds them without scanning the queue.
CREATE INDEX jobs_in_order ON jobs (queue, json_extract(payload, '$.order'), created_at, id)
    WHERE state IN ('queued', 'running');
