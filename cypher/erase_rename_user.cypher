// Replace a user id by its pseudonym: the user's transactions (whose attributes are dropped), the transfers
// that name the user as their counterparty, user labels, ring memberships and the User node itself.
// Parameters: $user_id, $pseudonym. Returns: nothing.
CALL () {
  MATCH (:User {id: $user_id})-[:MADE]->(t:Transaction)
  SET t.user_id = $pseudonym
  REMOVE t.attrs
}
CALL () {
  MATCH (t:Transaction {counterparty_id: $user_id})
  SET t.counterparty_id = $pseudonym
}
CALL () {
  MATCH (l:Label {subject: 'user', subject_id: $user_id})
  SET l.subject_id = $pseudonym
}
CALL () {
  MATCH (m:RingMember {user_id: $user_id})
  SET m.user_id = $pseudonym
}
CALL () {
  MATCH (u:User {id: $user_id})
  SET u.id = $pseudonym
}
