// The store's counts for info(). Parameters: none.
// Returns: transactions, labelled (with a file label), fraud (file label 1), users, links.
CALL () { MATCH (t:Transaction) RETURN count(t) AS transactions }
CALL () { MATCH (t:Transaction) WHERE t.is_fraud IS NOT NULL
       RETURN count(t) AS labelled, sum(CASE WHEN t.is_fraud = 1 THEN 1 ELSE 0 END) AS fraud }
CALL () { MATCH (u:User) WHERE EXISTS { (u)-[:MADE]->() } RETURN count(u) AS users }  // payers, as the embedded store counts
CALL () { MATCH ()-[r:USED]->() RETURN count(r) AS links }
CALL () { MATCH (c:Card) RETURN count(c) AS cards }
CALL () { MATCH (d:Device) RETURN count(d) AS devices }
CALL () { MATCH (i:IP) RETURN count(i) AS ips }
CALL () { MATCH (m:Merchant) RETURN count(m) AS merchants }
RETURN transactions, labelled, fraud, users, links, cards, devices, ips, merchants
