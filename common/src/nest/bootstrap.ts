import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type RequestListener } from 'node:http';
import type { DynamicModule } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import type { baseConfig, ConfigOf, ConfigShape, databaseConfig } from '../config.js';
import type { ServiceDatabase } from '../database.js';
import { accessLogLevel } from '../http.js';
import {
  createContext,
  openServiceDatabase,
  type BaseConfig,
  type DatabaseConfig,
  type RunningService,
  type ServiceContext,
} from '../service.js';
import type { CoreModuleOptions } from './core.module.js';
import { DirectConnections } from './direct-connection.js';
import { directRouter, routeBinder, type DirectJsonRoute } from './direct-route.js';
import { HttpErrorFilter } from './error.filter.js';
import { PinoNestLogger } from './logger.js';

export interface NestServiceOptions {
  context: ServiceContext;
  /** The service's root module, already bound to the context (see CoreModule). */
  module: DynamicModule;
  port: number;
  database?: ServiceDatabase;
  bodyLimitBytes?: number;
  /** Route patterns logged at debug: high-volume machine calls. */
  quietRoutes?: string[];
  /** Extra Fastify set-up before the routes are registered (content-type parsers). */
  configureHttp?: (fastify: FastifyInstance) => void;
  /** Routes served ahead of Fastify and Nest (see DirectJsonRoute), built from the created app. */
  directRoutes?: (app: NestFastifyApplication) => DirectJsonRoute[];
}

/** Nest's own Fastify instance (its version, which may differ from the one services import). */
export type FastifyInstance = ReturnType<ReturnType<NestFastifyApplication['getHttpAdapter']>['getInstance']>;

const REQUEST_ID = /^[\w.:-]{1,128}$/;

/** The settings Fastify applies to a server it creates itself, which a factory must apply. */
interface FastifyServerSettings {
  keepAliveTimeout: number;
  requestTimeout: number;
  connectionTimeout: number;
}

/** Starts a NestJS service on Fastify with metrics, access logs and error mapping wired in. */
export async function startNestService(options: NestServiceOptions): Promise<RunningService> {
  const { context, database } = options;
  const { logger, metrics, config } = context;
  const bodyLimitBytes = options.bodyLimitBytes ?? 1024 * 1024;
  // Filled once the app exists, before it listens: no request can arrive while it is empty.
  const direct = new Map<string, DirectJsonRoute>();
  const servesDirect = options.directRoutes !== undefined;
  const adapter = new FastifyAdapter({
    logger: false,
    bodyLimit: bodyLimitBytes,
    // Fastify's own server settings, with the direct routes ahead of its handler.
    serverFactory: (handler: RequestListener, options: Record<string, unknown>) => {
      // Fastify passes its whole option object, defaults applied; typed as a record.
      const settings = options as unknown as FastifyServerSettings;
      const routerContext = { logger, metrics, bodyLimitBytes };
      const bind = routeBinder(routerContext);
      const server = createServer(directRouter(direct, handler, routerContext, bind));
      if (servesDirect) new DirectConnections(server, direct, bind, routerContext).install();
      server.keepAliveTimeout = settings.keepAliveTimeout;
      server.requestTimeout = settings.requestTimeout;
      server.setTimeout(settings.connectionTimeout);
      return server;
    },
    // Identity and client addresses come from the access proxy's signed token, never from
    // forwarded headers a client could write.
    trustProxy: false,
    return503OnClosing: true,
    genReqId: (req: IncomingMessage) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    },
  });
  let app: NestFastifyApplication;
  try {
    app = await NestFactory.create<NestFastifyApplication>(options.module, adapter, {
      logger: new PinoNestLogger(logger),
      abortOnError: false,
    });
  } catch (err) {
    await database?.close();
    throw err;
  }
  app.useGlobalFilters(new HttpErrorFilter(logger));
  for (const route of options.directRoutes?.(app) ?? []) direct.set(route.path, route);

  const fastify = app.getHttpAdapter().getInstance();
  options.configureHttp?.(fastify);
  const quietRoutes = new Set(options.quietRoutes ?? []);
  const routes = [...direct.keys()].map((path) => ({ method: 'POST', path }));
  fastify.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) routes.push({ method, path: route.url });
  });
  fastify.addHook('onResponse', (request, reply, done) => {
    const route = request.routeOptions.url ?? 'unmatched';
    const seconds = reply.elapsedTime / 1000;
    metrics.httpRequestDuration.observe(
      { method: request.method, route, status_code: String(reply.statusCode) },
      seconds,
    );
    // The path without its query: query strings can carry codes and tokens.
    logger[accessLogLevel(route, quietRoutes)](
      {
        reqId: request.id,
        method: request.method,
        route,
        status: reply.statusCode,
        ms: Math.round(reply.elapsedTime),
      },
      'request',
    );
    done();
  });
  fastify.addHook('onSend', (request, reply, payload, done) => {
    void reply.header('x-request-id', request.id);
    done(null, payload);
  });

  try {
    await app.listen(options.port, config.HOST);
  } catch (err) {
    await app.close();
    await database?.close();
    throw err;
  }
  const address = fastify.server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  return {
    name: context.name,
    url: `http://${config.HOST.includes(':') ? `[${config.HOST}]` : config.HOST}:${port}`,
    context,
    routes,
    async close() {
      await app.close();
      await database?.close();
    },
  };
}

type DatabaseServiceShape = typeof baseConfig & typeof databaseConfig & ConfigShape;

export interface NestServiceDefinition<S extends DatabaseServiceShape> {
  name: string;
  config: S;
  port: (config: ConfigOf<S>) => number;
  /** The root module, given the core (context and database) it must import. */
  root: (core: CoreModuleOptions) => DynamicModule;
  schema?: Parameters<typeof openServiceDatabase>[1];
  quietRoutes?: string[];
  configureHttp?: (fastify: FastifyInstance) => void;
  directRoutes?: (app: NestFastifyApplication) => DirectJsonRoute[];
}

/** Builds a service's start function: config, database with migrations, Nest app, listener. */
export function defineNestService<S extends DatabaseServiceShape>(
  definition: NestServiceDefinition<S>,
): (env: NodeJS.ProcessEnv) => Promise<RunningService> {
  return async (env) => {
    const context = await createContext(definition.name, definition.config, env);
    // ConfigOf<S> includes the database variables because S extends their shape; TypeScript cannot
    // see through the mapped type.
    const database = await openServiceDatabase(
      context as unknown as ServiceContext<BaseConfig & DatabaseConfig>,
      definition.schema ?? {},
    );
    return startNestService({
      context,
      database,
      port: definition.port(context.config),
      module: definition.root({ context, database }),
      ...(definition.quietRoutes ? { quietRoutes: definition.quietRoutes } : {}),
      ...(definition.configureHttp ? { configureHttp: definition.configureHttp } : {}),
      ...(definition.directRoutes ? { directRoutes: definition.directRoutes } : {}),
    });
  };
}
