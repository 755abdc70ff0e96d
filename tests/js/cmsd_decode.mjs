// Decodes CMSD with @svta/cml-cmsd: stdin is a JSON array of
// {static, dynamic} header values; stdout the decoded objects.
import { decodeCmsdStatic, decodeCmsdDynamic } from '@svta/cml-cmsd';
let input = '';
process.stdin.on('data', (d) => { input += d; });
process.stdin.on('end', () => {
  const out = JSON.parse(input).map((item) => ({
    static: decodeCmsdStatic(item.static),
    dynamic: decodeCmsdDynamic(item.dynamic).map((entry) => ({
      server: String(entry.value),
      params: Object.fromEntries(Object.entries(entry.params || {})),
    })),
  }));
  process.stdout.write(JSON.stringify(out, (k, v) => (typeof v === 'symbol' ? v.description : v)));
});
