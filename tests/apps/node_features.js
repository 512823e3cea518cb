// Node.js under elfuse (tests/apps/cases.txt): worker_threads, fs/promises,
// child_process.spawn and an http server with a client in the same process.
// Each section prints what it observes in a fixed order; the run starts in a
// fresh empty directory (tests/compare.sh), which the fs section writes into.
'use strict';

const { Worker, isMainThread, parentPort, workerData } = require('worker_threads');
const fsp = require('fs/promises');
const path = require('path');
const { spawn } = require('child_process');
const http = require('http');

if (!isMainThread) {
  // A worker: sum of the squares and a small sieve over its own range, then
  // a message back with the result.
  const { id, from, to } = workerData;
  let squares = 0n;
  let primes = 0;
  for (let n = from; n < to; n++) {
    squares += BigInt(n) * BigInt(n);
    let prime = n >= 2;
    for (let d = 2; d * d <= n && prime; d++) {
      if (n % d === 0) prime = false;
    }
    if (prime) primes++;
  }
  parentPort.postMessage({ id, squares: squares.toString(), primes });
  return;
}

async function workers() {
  const count = 4;
  const results = await Promise.all(
    Array.from({ length: count }, (_, id) => new Promise((resolve, reject) => {
      const w = new Worker(__filename, { workerData: { id, from: id * 50000, to: (id + 1) * 50000 } });
      let message = null;
      w.on('message', (m) => { message = m; });
      w.on('error', reject);
      w.on('exit', (code) => resolve({ ...message, code }));
    })));
  for (const r of results) {
    console.log(`worker ${r.id}: squares ${r.squares} primes ${r.primes} exit ${r.code}`);
  }
  const total = results.reduce((sum, r) => sum + r.primes, 0);
  console.log(`workers: ${count} done, primes below ${count * 50000}: ${total}`);
}

async function files() {
  const dir = path.join(process.cwd(), 'fsp');
  await fsp.mkdir(path.join(dir, 'sub'), { recursive: true });
  await fsp.writeFile(path.join(dir, 'a.txt'), 'alpha\nbeta\n');
  await fsp.appendFile(path.join(dir, 'a.txt'), 'gamma\n');
  await fsp.writeFile(path.join(dir, 'sub', 'b.bin'), Buffer.alloc(70000, 0x5a));
  const handle = await fsp.open(path.join(dir, 'c.txt'), 'w+', 0o640);
  await handle.write('0123456789', 0);
  const buf = Buffer.alloc(4);
  const { bytesRead } = await handle.read(buf, 0, 4, 3);
  console.log(`fs: read ${bytesRead} at 3: ${buf.toString()}`);
  await handle.truncate(6);
  await handle.close();
  console.log(`fs: a.txt ${JSON.stringify(await fsp.readFile(path.join(dir, 'a.txt'), 'utf8'))}`);
  const entries = await fsp.readdir(dir, { withFileTypes: true });
  for (const e of entries.sort((x, y) => x.name.localeCompare(y.name))) {
    const st = await fsp.stat(path.join(dir, e.name));
    console.log(`fs: ${e.name} dir=${e.isDirectory()} file=${e.isFile()} size=${e.isDirectory() ? '-' : st.size} mode=${(st.mode & 0o777).toString(8)}`);
  }
  await fsp.rename(path.join(dir, 'c.txt'), path.join(dir, 'sub', 'c2.txt'));
  console.log(`fs: sub ${(await fsp.readdir(path.join(dir, 'sub'))).sort().join(',')}`);
  try {
    await fsp.stat(path.join(dir, 'missing'));
  } catch (e) {
    console.log(`fs: stat missing: ${e.code}`);
  }
  await fsp.rm(dir, { recursive: true });
  try {
    await fsp.access(dir);
  } catch (e) {
    console.log(`fs: after rm: ${e.code}`);
  }
}

function run(cmd, args, input) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args);
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { err += d; });
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ out, err, code, signal }));
    if (input !== undefined) child.stdin.end(input);
  });
}

async function children() {
  const a = await run('/bin/sh', ['-c', 'echo out $0; echo err >&2; exit 3', 'arg']);
  console.log(`spawn sh: ${JSON.stringify(a)}`);
  const b = await run('sort', ['-r'], 'b\nc\na\n');
  console.log(`spawn sort: ${JSON.stringify(b)}`);
  const c = await run('/bin/sh', ['-c', 'kill -TERM $$']);
  console.log(`spawn killed: code ${c.code} signal ${c.signal}`);
  try {
    await run('/nonexistent/program', []);
  } catch (e) {
    console.log(`spawn missing: ${e.code}`);
  }
}

async function httpLoop() {
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => { body += d; });
    req.on('end', () => {
      const reply = `${req.method} ${req.url} ${body.length} ${body.slice(0, 10)}`;
      res.writeHead(req.url === '/missing' ? 404 : 200, { 'Content-Type': 'text/plain', 'X-Test': 'elfuse' });
      res.end(reply);
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  const agent = new http.Agent({ keepAlive: true });
  const request = (method, urlPath, body) => new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path: urlPath, agent }, (res) => {
      let data = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { data += d; });
      res.on('end', () => resolve(`${res.statusCode} ${res.headers['content-type']} ${res.headers['x-test']} [${data}]`));
    });
    req.on('error', reject);
    req.end(body);
  });
  console.log(`http: ${await request('GET', '/hello')}`);
  console.log(`http: ${await request('POST', '/upload', 'x'.repeat(200000))}`);
  console.log(`http: ${await request('GET', '/missing')}`);
  const parallel = await Promise.all([1, 2, 3, 4, 5].map((n) => request('PUT', `/p${n}`, `body${n}`)));
  parallel.forEach((r) => console.log(`http: ${r}`));
  agent.destroy();
  await new Promise((resolve) => server.close(resolve));
  console.log('http: closed');
}

(async () => {
  await workers();
  await files();
  await children();
  await httpLoop();
  process.exitCode = 5;
})();
