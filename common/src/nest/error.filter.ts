import { Catch, HttpException, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from '../logger.js';

/**
 * One place where errors become HTTP answers. HTTP exceptions keep their status and message;
 * anything else is a 500 with a request id to quote, while the stack stays in the log.
 */
@Catch()
export class HttpErrorFilter implements ExceptionFilter {
  constructor(private readonly logger: Logger) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    const reply = http.getResponse<FastifyReply>();
    const request = http.getRequest<FastifyRequest>();
    if (exception instanceof HttpException) {
      const status = exception.getStatus();
      const body = exception.getResponse();
      void reply.status(status).send(typeof body === 'string' ? { statusCode: status, message: body } : body);
      return;
    }
    const status = statusOfFrameworkError(exception);
    if (status !== undefined && status < 500) {
      void reply.status(status).send({ statusCode: status, message: (exception as Error).message });
      return;
    }
    this.logger.error({ err: exception, reqId: request.id }, 'unhandled error');
    void reply.status(500).send({ statusCode: 500, message: 'internal error', requestId: request.id });
  }
}

/** Fastify's own errors (bad JSON, body too large) carry a 4xx statusCode and a safe message. */
function statusOfFrameworkError(exception: unknown): number | undefined {
  if (exception instanceof Error && 'statusCode' in exception && typeof exception.statusCode === 'number') {
    return exception.statusCode;
  }
  return undefined;
}
