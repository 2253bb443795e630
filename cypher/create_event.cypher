// One event. Parameters: $seq, $kind, $data (JSON text). Returns: nothing.
CREATE (:Event {seq: $seq, kind: $kind, data: $data})
