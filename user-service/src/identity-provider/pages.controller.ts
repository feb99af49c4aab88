import { Body, Controller, Get, Header, Post, Query, Req, Res } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { AccountRefused, AccountsService } from '../accounts/accounts.service.js';
import { LeakCheckUnavailable } from '../passwords/leaked-passwords.js';
import { PageResponder } from '../web/page-responder.js';
import type { SafeHtml } from '../web/html.js';
import { FlowsService } from './flows.service.js';
import { FlowAlreadyHandled, FlowNotFound } from './hydra-admin.js';
import {
  consentPage,
  loginPage,
  logoutPage,
  messagePage,
  passwordChangePage,
  signUpPage,
  STYLESHEET,
  STYLESHEET_PATH,
} from './pages.js';

const challenge = z.string().min(1).max(1024);
const field = z.string().max(1024);
const loginForm = z.object({ login_challenge: challenge, email: field, password: field });
const signUpForm = z.object({ login_challenge: challenge.optional(), email: field, password: field });
const consentForm = z.object({ consent_challenge: challenge, decision: z.enum(['allow', 'deny']) });
const logoutForm = z.object({ logout_challenge: challenge, decision: z.enum(['logout', 'stay']) });
const passwordForm = z.object({ email: field, current_password: field, new_password: field });

export const INVALID_CREDENTIALS_MESSAGE = 'The e-mail address or password is not correct.';
export const LEAK_CHECK_UNAVAILABLE_MESSAGE =
  'We cannot check new passwords right now, so we cannot accept one. Please try again in a few minutes.';

function lockedMessage(until: Date): string {
  const minutes = Math.max(1, Math.ceil((until.getTime() - Date.now()) / 60_000));
  return `Too many failed attempts. Try again in ${minutes} minute${minutes === 1 ? '' : 's'}.`;
}

/**
 * The pages of Hydra's login, consent and logout flows, sign-up and password change. Each form
 * post checks its CSRF token before anything else.
 */
@Controller()
export class PagesController {
  constructor(
    private readonly flows: FlowsService,
    private readonly accounts: AccountsService,
    private readonly pages: PageResponder,
  ) {}

  @Get(STYLESHEET_PATH)
  @Header('content-type', 'text/css; charset=utf-8')
  @Header('cache-control', 'public, max-age=3600')
  stylesheet(): string {
    return STYLESHEET;
  }

  @Get('login')
  async showLogin(
    @Query('login_challenge') loginChallenge: unknown,
    @Req() req: FastifyRequest,
    @Res() reply: FastifyReply,
  ) {
    const parsed = challenge.safeParse(loginChallenge);
    if (!parsed.success) return this.missingChallenge(reply);
    await this.guarded(reply, async () => {
      const step = await this.flows.startLogin(parsed.data);
      if (step.next === 'redirect') return this.pages.redirect(reply, step.to);
      this.pages.send(
        reply,
        200,
        loginPage({ csrf: this.pages.csrfToken(req, reply), loginChallenge: parsed.data }),
      );
    });
  }

  @Post('login')
  async submitLogin(@Body() body: unknown, @Req() req: FastifyRequest, @Res() reply: FastifyReply) {
    const form = this.form(req, reply, body, loginForm);
    if (!form) return;
    await this.guarded(reply, async () => {
      const step = await this.flows.submitLogin(
        form.login_challenge,
        form.email,
        form.password,
        this.pages.clientAddress(req),
      );
      if (step.outcome === 'accepted') return this.pages.redirect(reply, step.redirectTo);
      const locked = step.outcome === 'locked';
      const page = loginPage({
        csrf: this.pages.csrfToken(req, reply),
        loginChallenge: form.login_challenge,
        email: form.email,
        error: locked ? lockedMessage(step.until) : INVALID_CREDENTIALS_MESSAGE,
      });
      this.pages.send(reply, locked ? 429 : 401, page);
    });
  }

  @Get('signup')
  showSignUp(
    @Query('login_challenge') loginChallenge: unknown,
    @Req() req: FastifyRequest,
    @Res() reply: FastifyReply,
  ) {
    const parsed = challenge.optional().safeParse(loginChallenge);
    const form = {
      csrf: this.pages.csrfToken(req, reply),
      ...(parsed.data ? { loginChallenge: parsed.data } : {}),
    };
    this.pages.send(reply, 200, signUpPage(form));
  }

  @Post('signup')
  async submitSignUp(@Body() body: unknown, @Req() req: FastifyRequest, @Res() reply: FastifyReply) {
    const form = this.form(req, reply, body, signUpForm);
    if (!form) return;
    const again = (status: number, error: string) =>
      this.pages.send(
        reply,
        status,
        signUpPage({
          csrf: this.pages.csrfToken(req, reply),
          email: form.email,
          error,
          ...(form.login_challenge ? { loginChallenge: form.login_challenge } : {}),
        }),
      );
    await this.guarded(reply, async () => {
      try {
        const step = await this.flows.signUp(
          form.login_challenge,
          form.email,
          form.password,
          this.pages.clientAddress(req),
        );
        if (step.next === 'redirect') return this.pages.redirect(reply, step.to);
        if (step.next === 'locked') return again(429, lockedMessage(step.until));
        this.pages.send(
          reply,
          201,
          messagePage('Account created', 'Your account is ready. Open the app to log in.'),
        );
      } catch (err) {
        if (err instanceof AccountRefused) return again(422, err.message);
        if (err instanceof LeakCheckUnavailable) return again(503, LEAK_CHECK_UNAVAILABLE_MESSAGE);
        throw err;
      }
    });
  }

  @Get('consent')
  async showConsent(
    @Query('consent_challenge') consentChallenge: unknown,
    @Req() req: FastifyRequest,
    @Res() reply: FastifyReply,
  ) {
    const parsed = challenge.safeParse(consentChallenge);
    if (!parsed.success) return this.missingChallenge(reply);
    await this.guarded(reply, async () => {
      const step = await this.flows.startConsent(parsed.data);
      if (step.next === 'redirect') return this.pages.redirect(reply, step.to);
      const csrf = this.pages.csrfToken(req, reply);
      this.pages.send(
        reply,
        200,
        consentPage({ csrf, challenge: parsed.data, clientName: step.clientName, scopes: step.scopes }),
      );
    });
  }

  @Post('consent')
  async submitConsent(@Body() body: unknown, @Req() req: FastifyRequest, @Res() reply: FastifyReply) {
    const form = this.form(req, reply, body, consentForm);
    if (!form) return;
    await this.guarded(reply, async () => {
      this.pages.redirect(
        reply,
        await this.flows.decideConsent(form.consent_challenge, form.decision === 'allow'),
      );
    });
  }

  @Get('logout')
  async showLogout(
    @Query('logout_challenge') logoutChallenge: unknown,
    @Req() req: FastifyRequest,
    @Res() reply: FastifyReply,
  ) {
    const parsed = challenge.safeParse(logoutChallenge);
    if (!parsed.success) return this.missingChallenge(reply);
    await this.guarded(reply, async () => {
      await this.flows.startLogout(parsed.data);
      this.pages.send(
        reply,
        200,
        logoutPage({ csrf: this.pages.csrfToken(req, reply), challenge: parsed.data }),
      );
    });
  }

  @Post('logout')
  async submitLogout(@Body() body: unknown, @Req() req: FastifyRequest, @Res() reply: FastifyReply) {
    const form = this.form(req, reply, body, logoutForm);
    if (!form) return;
    await this.guarded(reply, async () => {
      const to = await this.flows.decideLogout(form.logout_challenge, form.decision === 'logout');
      if (to) return this.pages.redirect(reply, to);
      this.pages.send(
        reply,
        200,
        messagePage('Still logged in', 'You stay logged in. You can close this page.'),
      );
    });
  }

  @Get('logout/done')
  loggedOut(@Res() reply: FastifyReply) {
    this.pages.send(reply, 200, messagePage('Logged out', 'You are logged out. You can close this page.'));
  }

  @Get('password')
  showPasswordChange(@Req() req: FastifyRequest, @Res() reply: FastifyReply) {
    this.pages.send(reply, 200, passwordChangePage({ csrf: this.pages.csrfToken(req, reply) }));
  }

  @Post('password')
  async submitPasswordChange(@Body() body: unknown, @Req() req: FastifyRequest, @Res() reply: FastifyReply) {
    const form = this.form(req, reply, body, passwordForm);
    if (!form) return;
    const again = (status: number, error: string) =>
      this.pages.send(
        reply,
        status,
        passwordChangePage({ csrf: this.pages.csrfToken(req, reply), email: form.email, error }),
      );
    try {
      const result = await this.accounts.changePassword(
        form.email,
        form.current_password,
        form.new_password,
        this.pages.clientAddress(req),
      );
      if (result.outcome === 'changed') {
        return this.pages.send(
          reply,
          200,
          messagePage('Password changed', 'Your new password is in effect.'),
        );
      }
      if (result.outcome === 'locked') return again(429, lockedMessage(result.until));
      again(401, INVALID_CREDENTIALS_MESSAGE);
    } catch (err) {
      if (err instanceof AccountRefused) return again(422, err.message);
      if (err instanceof LeakCheckUnavailable) return again(503, LEAK_CHECK_UNAVAILABLE_MESSAGE);
      throw err;
    }
  }

  /** The form's fields, or undefined once a refusal page has been sent (bad CSRF token, bad shape). */
  private form<T>(
    req: FastifyRequest,
    reply: FastifyReply,
    body: unknown,
    schema: z.ZodType<T>,
  ): T | undefined {
    if (!this.pages.csrfValid(req, body)) {
      this.send(
        reply,
        403,
        messagePage(
          'Form expired',
          'This form has expired or did not come from us. Go back, reload the page and try again.',
          'error',
        ),
      );
      return undefined;
    }
    const parsed = schema.safeParse(body);
    if (!parsed.success) {
      this.send(
        reply,
        400,
        messagePage('Incomplete form', 'The form was incomplete. Go back and fill in every field.', 'error'),
      );
      return undefined;
    }
    return parsed.data;
  }

  /** Expired or reused challenges end in a page the user understands, never an error trace. */
  private async guarded(reply: FastifyReply, run: () => Promise<void>): Promise<void> {
    try {
      await run();
    } catch (err) {
      if (err instanceof FlowAlreadyHandled) return this.pages.redirect(reply, err.redirectTo);
      if (err instanceof FlowNotFound) {
        return this.send(
          reply,
          404,
          messagePage('Link expired', 'This page has expired. Go back to the app and start again.', 'error'),
        );
      }
      throw err;
    }
  }

  private missingChallenge(reply: FastifyReply): void {
    this.send(reply, 400, messagePage('Start from the app', 'Open the Spincycle app to log in.', 'error'));
  }

  private send(reply: FastifyReply, status: number, page: SafeHtml): void {
    this.pages.send(reply, status, page);
  }
}
