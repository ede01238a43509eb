/**
 * A listener's sockets as the kernel sees them, for tests whose client and server
 * ends live in one process: counting the whole process's descriptors also counts
 * whatever the test runner opened meanwhile.
 */
import fs from 'node:fs';

/** TCP states that still hold a server descriptor: ESTABLISHED and CLOSE_WAIT. */
const HOLDING = new Set(['01', '08']);

interface TcpRow {
  localPort: number;
  state: string;
}

/** /proc/net/tcp and tcp6 by socket inode. */
function tcpTable(): Map<string, TcpRow> {
  const rows = new Map<string, TcpRow>();
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const line of fs.readFileSync(file, 'utf8').split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols.length > 9) rows.set(cols[9]!, { localPort: Number.parseInt(cols[1]!.split(':').pop()!, 16), state: cols[3]! });
    }
  }
  return rows;
}

/** Inodes of every socket the kernel lists in a table other than TCP's (Unix, UDP, netlink, raw). */
function otherSocketInodes(): Set<string> {
  const inodes = new Set<string>();
  const column: Record<string, number> = { unix: 6, udp: 9, udp6: 9, raw: 9, raw6: 9, netlink: 8 };
  for (const [file, at] of Object.entries(column)) {
    let text: string;
    try {
      text = fs.readFileSync(`/proc/net/${file}`, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const inode = line.trim().split(/\s+/)[at];
      if (inode) inodes.add(inode);
    }
  }
  return inodes;
}

/** Server-side sockets of `port` that hold a descriptor in some process (ESTABLISHED or CLOSE_WAIT), from the kernel's table. */
export function tcpSocketsOnPort(port: number): number {
  return [...tcpTable().values()].filter((row) => row.localPort === port && HOLDING.has(row.state)).length;
}

/**
 * This process's descriptors of `port`'s accepted connections: sockets whose TCP row
 * has that local port (any state but LISTEN), plus sockets the kernel lists nowhere,
 * i.e. TCP connections closed on the wire whose descriptor nobody closed: a leak the
 * table alone cannot show. Call it once the test's own clients are closed.
 */
export function socketDescriptorsOfPort(port: number): number {
  const tcp = tcpTable();
  const other = otherSocketInodes();
  let count = 0;
  for (const fd of fs.readdirSync('/proc/self/fd')) {
    let target: string;
    try {
      target = fs.readlinkSync(`/proc/self/fd/${fd}`);
    } catch {
      continue; // closed meanwhile (readdir's own descriptor among them)
    }
    const inode = /^socket:\[(\d+)\]$/.exec(target)?.[1];
    if (inode === undefined || other.has(inode)) continue;
    const row = tcp.get(inode);
    if (row === undefined || (row.localPort === port && row.state !== '0A')) count++;
  }
  return count;
}
