import {
  BadRequestException,
  Body,
  Controller,
  Delete,
  ForbiddenException,
  Get,
  Headers,
  HttpCode,
  NotFoundException,
  Param,
  Put,
} from '@nestjs/common';
import { z } from 'zod';
import { AccountsService, NotAllowed, UserNotFound } from './accounts.service.js';
import { Callers } from './caller.js';
import { ROLES } from './roles.js';
import type { User } from './users.repository.js';

const rolesBody = z.object({ roles: z.array(z.enum(ROLES)).min(1) });

function publicView(user: User) {
  return { id: user.id, email: user.email, roles: user.roles, createdAt: user.createdAt.toISOString() };
}

async function mapped<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    if (err instanceof UserNotFound) throw new NotFoundException('no such account');
    if (err instanceof NotAllowed) throw new ForbiddenException(err.message);
    throw err;
  }
}

@Controller()
export class AccountsController {
  constructor(
    private readonly accounts: AccountsService,
    private readonly callers: Callers,
  ) {}

  @Get('me')
  async me(@Headers('authorization') authorization: string | undefined) {
    const caller = await this.callers.withScope(authorization, 'openid');
    return mapped(async () => publicView(await this.accounts.find(caller.id)));
  }

  @Delete('me')
  @HttpCode(204)
  async deleteMe(@Headers('authorization') authorization: string | undefined): Promise<void> {
    const caller = await this.callers.withScope(authorization, 'openid');
    await mapped(() => this.accounts.deleteAccount(caller.id));
  }

  @Put('users/:id/roles')
  async setRoles(
    @Headers('authorization') authorization: string | undefined,
    @Param('id') id: string,
    @Body() body: unknown,
  ) {
    // The actor's roles are read from the account, not the token: a demoted admin's tokens are
    // revoked, but the access proxy may still hold its answer for one of them.
    const caller = await this.callers.withScope(authorization, 'admin.users');
    const parsed = rolesBody.safeParse(body);
    if (!parsed.success) {
      throw new BadRequestException(`roles must be a non-empty list of ${ROLES.join(', ')}`);
    }
    return mapped(async () => publicView(await this.accounts.setRoles(caller.id, id, parsed.data.roles)));
  }
}
