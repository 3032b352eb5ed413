/**
 * The small part of node-media-server 4 that live/ingest-rtmp.ts uses. The package ships
 * no types (and @types/node-media-server describes v2), so they are declared here from its
 * source (src/index.js, src/core/context.js, src/session/*.js, src/server/broadcast_server.js).
 */

declare module 'node-media-server' {
  /** A connection: an RTMP publisher or player, or an internal (ip "") subscriber. */
  export interface NmsSession {
    id: string;
    /** "address:port" of the peer; "" marks an internal session (no play events). */
    ip: string;
    protocol: string;
    streamApp: string;
    streamName: string;
    streamPath: string;
    isPublisher: boolean;
    /** From the publisher's onMetaData (0 when not sent). */
    videoCodec: number;
    videoWidth: number;
    videoHeight: number;
    videoFramerate: number;
    /** kbit/s as the encoder declared it. */
    videoDatarate: number;
    audioCodec: number;
    /** RTMP sessions only. */
    socket?: import('node:net').Socket;
    /** RTMP sessions only: the protocol parser; `parserData` takes every byte read (an error string closes the socket). */
    rtmp?: { parserData(data: Buffer): string | null };
    sendBuffer(buffer: Buffer): void;
    close(): void;
  }

  export interface NmsConfig {
    bind?: string;
    rtmp?: { port?: number };
    http?: { port?: number };
    record?: { path?: string; auto?: boolean };
    store?: { path?: string; flushInterval?: number };
    webadmin?: { enable?: boolean };
  }

  export type NmsEvent = 'prePublish' | 'postPublish' | 'donePublish' | 'prePlay' | 'postPlay' | 'donePlay';

  class NodeMediaServer {
    constructor(config: NmsConfig, configPath?: string);
    /** Created by the constructor; `tcpServer` listens once run() is called. */
    rtmpServer: { tcpServer?: import('node:net').Server };
    on(event: NmsEvent, listener: (session: NmsSession) => void): void;
    run(): Promise<void>;
    stop(): Promise<void>;
  }
  export default NodeMediaServer;
}

declare module 'node-media-server/src/core/logger.js' {
  /** NMS's one logger (console.log); its constructor forces level "debug". */
  const logger: { level: string; log(message: string, level?: string): void };
  export default logger;
}

declare module 'node-media-server/src/core/context.js' {
  import type { NmsSession } from 'node-media-server';

  /** The stream of one path: its publisher and subscribers. */
  export interface NmsBroadcast {
    publisher: NmsSession | null;
    /** Sends the FLV header, cached metadata, sequence headers and GOP, then subscribes. */
    postPlay(session: Pick<NmsSession, 'id' | 'ip' | 'protocol' | 'streamPath' | 'sendBuffer'>): string | null;
    donePlay(session: Pick<NmsSession, 'id' | 'ip' | 'protocol' | 'streamPath' | 'sendBuffer'>): void;
  }

  const Context: {
    broadcasts: Map<string, NmsBroadcast>;
    sessions: Map<string, NmsSession>;
    /** Where NodeMediaServer.on() registers; stop() does not remove the listeners. */
    eventEmitter: import('node:events').EventEmitter;
  };
  export default Context;
}
