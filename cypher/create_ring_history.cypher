// Ring history rows. Parameters: $rows (list of {id, ring_id, at, change, detail}). Returns: nothing.
UNWIND $rows AS row
CREATE (h:RingHistory)
SET h = row
