-- The package's files are complete: the extension is created at its default
-- version from them, and its C library answers a call.
CREATE EXTENSION rfm_segment;
SELECT extversion FROM pg_extension WHERE extname = 'rfm_segment';
SELECT (rfm_metrics(t, amount, '2024-02-01 00:00+00')).frequency
  FROM (VALUES ('2024-01-01 00:00+00'::timestamptz, 10.0), ('2024-01-15 00:00+00', 5.0)) AS o(t, amount);
