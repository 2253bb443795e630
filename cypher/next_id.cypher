// The next number of a per-kind counter (audit rows, API keys, cases, notes, ring history).
// Parameters: $key (a fixed counter name), $n (how many ids). Returns: last (int), the last id taken.
MERGE (m:Meta {key: $key})
  ON CREATE SET m.value = 0
SET m.value = m.value + $n
RETURN m.value AS last
