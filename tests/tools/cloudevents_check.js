// Reads Kafka messages as kcat -J prints them (one JSON object a line) on
// stdin and has the CloudEvents JavaScript SDK read each one through its own
// Kafka protocol binding (binary mode: ce_* headers), then validate it
// against the CloudEvents 1.0 specification. Prints one line per invalid
// message and a summary; exits 1 when any message is invalid or none was
// read.
'use strict';
const readline = require('readline');
const { Kafka, ValidationError } = require('cloudevents');

let total = 0, bad = 0;
const rl = readline.createInterface({ input: process.stdin });
rl.on('line', (line) => {
  if (!line.trim()) return;
  const m = JSON.parse(line);
  const headers = {};
  for (let i = 0; i + 1 < (m.headers || []).length; i += 2)
    headers[m.headers[i]] = m.headers[i + 1];
  total++;
  try {
    const ev = Kafka.toEvent({ headers, key: m.key, value: Buffer.from(m.payload || '', 'latin1'), body: Buffer.from(m.payload || '', 'latin1') });
    ev.validate();
  } catch (e) {
    bad++;
    const why = e instanceof ValidationError ? JSON.stringify(e.errors) : e.message;
    if (bad <= 20)
      console.log(`invalid: ${m.topic} [${m.partition}] @${m.offset} ${headers.ce_type || '?'}: ${why}`);
  }
});
rl.on('close', () => {
  console.log(`${total} message(s) read, ${total - bad} valid CloudEvents, ${bad} invalid`);
  process.exit(bad || !total ? 1 : 0);
});
