import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

/**
 * Counts requests in progress per connection, so a graceful stop can close each connection the
 * moment it has nothing in flight. Node's own closeIdleConnections misses sockets that connected
 * but have sent nothing yet, and those would hold the server open for the keep-alive timeout.
 */
export function trackConnections(server: Server): { closeIdle(): void } {
  const connections = new Map<Socket, number>();
  server.on('connection', (socket: Socket) => {
    connections.set(socket, 0);
    socket.once('close', () => connections.delete(socket));
  });
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const socket = req.socket;
    connections.set(socket, (connections.get(socket) ?? 0) + 1);
    res.once('close', () => {
      if (connections.has(socket)) connections.set(socket, Math.max(0, (connections.get(socket) ?? 1) - 1));
    });
  });
  return {
    closeIdle: () => {
      for (const [socket, busy] of connections) if (busy === 0) socket.destroy();
    },
  };
}
