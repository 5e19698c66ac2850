import { h, mount } from '../dom.js';
import { t } from '../i18n.js';
import { login, type User } from '../session.js';
import { errorText } from '../ui.js';

/** The login form; calls `done` with the user once the server accepted the password. */
export function renderLogin(root: HTMLElement, langSwitch: HTMLElement, done: (u: User) => void): void {
  const errorSlot = h('div', { class: 'dialog-error', role: 'alert', 'data-testid': 'login-error' });
  const username = h('input', { id: 'login-username', name: 'username', autocomplete: 'username', required: true, maxlength: 64, 'data-testid': 'login-username' });
  const password = h('input', { id: 'login-password', name: 'password', type: 'password', autocomplete: 'current-password', required: true, maxlength: 256, 'data-testid': 'login-password' });
  const submit = h('button', { type: 'submit', class: 'btn primary wide', 'data-testid': 'login-submit' }, t('login.submit'));
  const form = h(
    'form',
    {
      class: 'login-card',
      on: {
        submit: (ev) => {
          ev.preventDefault();
          submit.disabled = true;
          submit.textContent = t('login.busy');
          mount(errorSlot);
          login(username.value.trim(), password.value).then(
            (u) => {
              password.value = '';
              if (u) done(u);
              else {
                submit.disabled = false;
                submit.textContent = t('login.submit');
              }
            },
            (err: unknown) => {
              password.value = '';
              submit.disabled = false;
              submit.textContent = t('login.submit');
              mount(errorSlot, errorText(err));
              password.focus();
            },
          );
        },
      },
    },
    h('div', { class: 'login-lang' }, langSwitch),
    h('div', { class: 'brand-mark', 'aria-hidden': 'true' }, 'SG'),
    h('h1', null, t('app.name')),
    h('p', { class: 'muted' }, t('login.subtitle')),
    h('label', { class: 'field', for: 'login-username' }, h('span', null, t('login.username')), username),
    h('label', { class: 'field', for: 'login-password' }, h('span', null, t('login.password')), password),
    errorSlot,
    submit,
  );
  mount(root, h('main', { class: 'login-page' }, form));
  username.focus();
}
