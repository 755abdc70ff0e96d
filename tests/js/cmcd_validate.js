// Validates CMCD with @montevideo-tech/cmcd-validator: stdin is a JSON array
// of {query: url} or {header: raw request}; stdout the validator's answers.
// The validator logs its steps on the console: keep stdout for the answer.
console.log = () => {};
console.info = () => {};
console.warn = () => {};
const { CMCDQueryValidator, CMCDHeaderValidator } = require('@montevideo-tech/cmcd-validator');
let input = '';
process.stdin.on('data', (d) => { input += d; });
process.stdin.on('end', () => {
  const out = JSON.parse(input).map((item) =>
    item.query !== undefined
      ? CMCDQueryValidator(item.query, null, true)
      : CMCDHeaderValidator(item.header, null, true));
  process.stdout.write(JSON.stringify(out));
});
