import { CSRF_FIELD } from '../web/csrf.js';
import { MIN_PASSWORD_LENGTH } from '../passwords/password-policy.js';
import { html, type SafeHtml } from '../web/html.js';

export const STYLESHEET_PATH = '/assets/pages.css';

/** Small, readable on a phone, no script: the CSP forbids it. */
export const STYLESHEET = `
*{box-sizing:border-box}
body{font-family:system-ui,sans-serif;margin:0;padding:1.5rem;background:#f4f6f8;color:#1c2530}
main{max-width:26rem;margin:0 auto;background:#fff;padding:1.5rem;border-radius:.5rem;box-shadow:0 1px 3px #0002}
h1{font-size:1.4rem;margin-top:0}
label{display:block;margin:.8rem 0 .3rem;font-weight:600}
input[type=email],input[type=password]{width:100%;padding:.7rem;font-size:1rem;border:1px solid #9aa5b1;border-radius:.3rem}
button{width:100%;margin-top:1.2rem;padding:.8rem;font-size:1rem;border:0;border-radius:.3rem;background:#0b63ce;color:#fff}
button.secondary{background:#e4e7eb;color:#1c2530}
.error{background:#fde8e8;color:#8a1c1c;padding:.7rem;border-radius:.3rem}
.notice{background:#e6f4ea;padding:.7rem;border-radius:.3rem}
ul{padding-left:1.2rem}
`;

function layout(title: string, body: SafeHtml): SafeHtml {
  return html`<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>${title} · Spincycle</title>
        <link rel="stylesheet" href="${STYLESHEET_PATH}" />
      </head>
      <body>
        <main>
          <h1>${title}</h1>
          ${body}
        </main>
      </body>
    </html>`;
}

function errorBox(error: string | undefined): SafeHtml {
  return html`${error ? html`<p class="error" role="alert">${error}</p>` : ''}`;
}

function csrfField(token: string): SafeHtml {
  return html`<input type="hidden" name="${CSRF_FIELD}" value="${token}" />`;
}

export interface CredentialsForm {
  csrf: string;
  loginChallenge?: string;
  email?: string;
  error?: string;
}

function challengeField(challenge: string | undefined): SafeHtml {
  return html`${challenge ? html`<input type="hidden" name="login_challenge" value="${challenge}" />` : ''}`;
}

function emailField(email: string | undefined): SafeHtml {
  return html`<label for="email">E-mail</label>
    <input id="email" name="email" type="email" autocomplete="username" required value="${email ?? ''}" />`;
}

function passwordField(field: { name: string; label: string; purpose: 'current' | 'new' }): SafeHtml {
  const isNew = field.purpose === 'new';
  return html`<label for="${field.name}">${field.label}</label>
    <input
      id="${field.name}"
      name="${field.name}"
      type="password"
      autocomplete="${isNew ? 'new-password' : 'current-password'}"
      ${isNew ? html`minlength="${MIN_PASSWORD_LENGTH}"` : ''}
      required
    />`;
}

const NEW_PASSWORD_LABEL = `at least ${MIN_PASSWORD_LENGTH} characters`;

export function loginPage(form: CredentialsForm): SafeHtml {
  const signUp = `/signup${form.loginChallenge ? `?login_challenge=${encodeURIComponent(form.loginChallenge)}` : ''}`;
  return layout(
    'Log in',
    html`${errorBox(form.error)}
      <form method="post" action="/login">
        ${csrfField(form.csrf)}${challengeField(form.loginChallenge)} ${emailField(form.email)}
        ${passwordField({ name: 'password', label: 'Password', purpose: 'current' })}
        <button type="submit">Log in</button>
      </form>
      <p>No account yet? <a href="${signUp}">Create one</a></p>`,
  );
}

export function signUpPage(form: CredentialsForm): SafeHtml {
  return layout(
    'Create your account',
    html`${errorBox(form.error)}
      <form method="post" action="/signup">
        ${csrfField(form.csrf)}${challengeField(form.loginChallenge)} ${emailField(form.email)}
        ${passwordField({ name: 'password', label: `Password (${NEW_PASSWORD_LABEL})`, purpose: 'new' })}
        <button type="submit">Create account</button>
      </form>`,
  );
}

export function passwordChangePage(form: { csrf: string; email?: string; error?: string }): SafeHtml {
  return layout(
    'Change your password',
    html`${errorBox(form.error)}
      <form method="post" action="/password">
        ${csrfField(form.csrf)} ${emailField(form.email)}
        ${passwordField({ name: 'current_password', label: 'Current password', purpose: 'current' })}
        ${passwordField({ name: 'new_password', label: `New password (${NEW_PASSWORD_LABEL})`, purpose: 'new' })}
        <button type="submit">Change password</button>
      </form>`,
  );
}

export function consentPage(form: {
  csrf: string;
  challenge: string;
  clientName: string;
  scopes: string[];
}): SafeHtml {
  return layout(
    'Allow access?',
    html`<p>${form.clientName} asks for:</p>
      <ul>
        ${form.scopes.map((s) => html`<li>${s}</li>`)}
      </ul>
      <form method="post" action="/consent">
        ${csrfField(form.csrf)}
        <input type="hidden" name="consent_challenge" value="${form.challenge}" />
        <button type="submit" name="decision" value="allow">Allow</button>
        <button type="submit" name="decision" value="deny" class="secondary">Deny</button>
      </form>`,
  );
}

export function logoutPage(form: { csrf: string; challenge: string }): SafeHtml {
  return layout(
    'Log out?',
    html`<p>You will be logged out of Spincycle on this device, and the app will need you to log in again.</p>
      <form method="post" action="/logout">
        ${csrfField(form.csrf)}
        <input type="hidden" name="logout_challenge" value="${form.challenge}" />
        <button type="submit" name="decision" value="logout">Log out</button>
        <button type="submit" name="decision" value="stay" class="secondary">Stay logged in</button>
      </form>`,
  );
}

export function messagePage(title: string, message: string, kind: 'notice' | 'error' = 'notice'): SafeHtml {
  return layout(title, html`<p class="${kind}">${message}</p>`);
}
