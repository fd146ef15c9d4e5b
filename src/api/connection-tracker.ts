import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

export interface ConnectionTracker {
  /** Closes every connection with no request in progress. */
  closeIdle(): void;
  /**
   * Ends every request whose body is still arriving: answered with `answer()` (raw HTTP bytes)
   * when no response has started, and its connection closed. Returns how many were cut.
   */
  cutUnfinished(answer: () => string): number;
}

/**
 * Tracks requests in progress per connection, so a graceful stop can close each connection the
 * moment it has nothing in flight. Node's own closeIdleConnections misses sockets that connected
 * but have sent nothing yet, and those would hold the server open for the keep-alive timeout.
 *
 * It also finds requests whose body never finishes: Node's request timeout stops being checked
 * once the server closes, so without cutting them one stalled upload would hold a stopping
 * process for its whole grace period.
 */
export function trackConnections(server: Server): ConnectionTracker {
  const connections = new Map<Socket, Set<{ req: IncomingMessage; res: ServerResponse }>>();
  server.on('connection', (socket: Socket) => {
    connections.set(socket, new Set());
    socket.once('close', () => connections.delete(socket));
  });
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const inFlight = connections.get(req.socket);
    if (inFlight === undefined) return;
    const entry = { req, res };
    inFlight.add(entry);
    res.once('close', () => inFlight.delete(entry));
  });
  return {
    closeIdle: () => {
      for (const [socket, inFlight] of connections) if (inFlight.size === 0) socket.destroy();
    },
    cutUnfinished: (answer) => {
      let cut = 0;
      for (const [socket, inFlight] of connections) {
        const unfinished = [...inFlight].filter(({ req }) => !req.complete);
        if (unfinished.length === 0) continue;
        cut += 1;
        const started = [...inFlight].some(({ res }) => res.headersSent);
        connections.delete(socket);
        if (started || !socket.writable) {
          socket.destroy();
          continue;
        }
        // The client may be mid-upload: half-close after the answer, then close for good, so the
        // unread upload does not turn our answer into a reset.
        socket.end(answer());
        setTimeout(() => socket.destroy(), 1000).unref();
      }
      return cut;
    },
  };
}
