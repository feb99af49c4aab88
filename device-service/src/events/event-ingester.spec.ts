import mqttPacket from 'mqtt-packet';
import { describe, expect, it } from 'vitest';
import { pubacks } from './event-ingester.js';

describe('pubacks', () => {
  it('writes the same bytes as the MQTT codec, one PUBACK per message id in order', () => {
    const ids = [1, 2, 255, 256, 4097, 65_535];
    const expected = Buffer.concat(ids.map((messageId) => mqttPacket.generate({ cmd: 'puback', messageId })));
    expect(pubacks(ids).equals(expected)).toBe(true);
  });

  it('reads back as the same PUBACKs', () => {
    const ids = [7, 300, 65_000];
    const parser = mqttPacket.parser({ protocolVersion: 4 });
    const read: number[] = [];
    parser.on('packet', (packet) => {
      if (packet.cmd === 'puback' && packet.messageId !== undefined) read.push(packet.messageId);
    });
    parser.parse(pubacks(ids));
    expect(read).toEqual(ids);
  });
});
