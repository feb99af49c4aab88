import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { isUniqueViolation } from '@spincycle/common';
import { DataSource } from 'typeorm';
import { isRole, type Role } from './roles.js';

export interface User {
  id: string;
  email: string;
  passwordHash: string;
  roles: Role[];
  createdAt: Date;
}

export class EmailTaken extends Error {
  constructor() {
    super('an account with this e-mail address exists');
  }
}

interface UserRow {
  id: string;
  email: string;
  password_hash: string;
  roles: string[];
  created_at: Date;
}

const COLUMNS = 'id, email, password_hash, roles, created_at';

function toUser(row: UserRow): User {
  return {
    id: row.id,
    email: row.email,
    passwordHash: row.password_hash,
    roles: row.roles.filter(isRole),
    createdAt: row.created_at,
  };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

@Injectable()
export class UsersRepository {
  constructor(private readonly dataSource: DataSource) {}

  async create(email: string, passwordHash: string, roles: readonly Role[]): Promise<User> {
    try {
      const rows: UserRow[] = await this.dataSource.query(
        `INSERT INTO users (id, email, password_hash, roles) VALUES ($1, $2, $3, $4) RETURNING ${COLUMNS}`,
        [randomUUID(), email, passwordHash, roles],
      );
      return toUser(rows[0] as UserRow);
    } catch (err) {
      if (isUniqueViolation(err)) throw new EmailTaken();
      throw err;
    }
  }

  async findByEmail(email: string): Promise<User | undefined> {
    const rows: UserRow[] = await this.dataSource.query(
      `SELECT ${COLUMNS} FROM users WHERE lower(email) = lower($1)`,
      [email],
    );
    return rows[0] ? toUser(rows[0]) : undefined;
  }

  async findById(id: string): Promise<User | undefined> {
    if (!UUID.test(id)) return undefined;
    const rows: UserRow[] = await this.dataSource.query(`SELECT ${COLUMNS} FROM users WHERE id = $1`, [id]);
    return rows[0] ? toUser(rows[0]) : undefined;
  }

  async updatePassword(id: string, passwordHash: string): Promise<void> {
    await this.dataSource.query(
      'UPDATE users SET password_hash = $2, password_changed_at = now() WHERE id = $1',
      [id, passwordHash],
    );
  }

  async setRoles(id: string, roles: readonly Role[]): Promise<User | undefined> {
    if (!UUID.test(id)) return undefined;
    // TypeORM answers UPDATE and DELETE on PostgreSQL with [rows, affected count].
    const [rows]: [UserRow[], number] = await this.dataSource.query(
      `UPDATE users SET roles = $2 WHERE id = $1 RETURNING ${COLUMNS}`,
      [id, roles],
    );
    return rows[0] ? toUser(rows[0]) : undefined;
  }

  async delete(id: string): Promise<boolean> {
    if (!UUID.test(id)) return false;
    const [, deleted]: [unknown[], number] = await this.dataSource.query('DELETE FROM users WHERE id = $1', [
      id,
    ]);
    return deleted > 0;
  }
}
