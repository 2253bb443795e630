// A note on a case. Parameters: $id, $case_id, $at, $author, $text. Returns: nothing.
CREATE (:Note {id: $id, case_id: $case_id, at: $at, author: $author, text: $text})
