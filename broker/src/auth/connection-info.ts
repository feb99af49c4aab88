import type { Connection } from 'aedes';

/** What the listener knew about a connection before MQTT started on it. */
export interface ConnectionInfo {
  listenerType: 'mqtts' | 'mqttwss' | 'mqttws';
  listenerAddr: string;
  listenerPort: number;
  peerAddr: string;
  peerPort: number;
  /** The verified client certificate (device listener only). */
  certificate?: { commonName: string; serialNumber: string; der: Buffer };
}

const infos = new WeakMap<Connection, ConnectionInfo>();

export function describeConnection(connection: Connection, info: ConnectionInfo): void {
  infos.set(connection, info);
}

export function connectionInfo(connection: Connection): ConnectionInfo | undefined {
  return infos.get(connection);
}
