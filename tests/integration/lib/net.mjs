// Free ports for peers that cannot pick their own (prefer "port 0 and read it back" where a
// program supports it: a port found free here can be taken by someone else before it is used).
import net from 'node:net';

export function freePort(host = '127.0.0.1') {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, host, () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

// n distinct free ports.
export async function freePorts(n, host = '127.0.0.1') {
  const ports = new Set();
  while (ports.size < n) ports.add(await freePort(host));
  return [...ports];
}
