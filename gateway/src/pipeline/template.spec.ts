import { describe, expect, it } from 'vitest';
import { compileTemplate, TemplateError, type TemplateData } from './template.js';

const data: TemplateData = {
  Subject: 'user-1',
  Extra: { email: 'ann@example.com', scope: 'openid device.read', roles: ['homeowner'], nested: { a: 1 } },
  Header: { 'x-custom': 'v' },
  MatchContext: { RegexpCaptureGroups: ['https', 'd1'], URL: 'https://api.test/devices/d1' },
};

describe('mutator templates', () => {
  it.each([
    ['{{ print .Subject }}', 'user-1'],
    ['{{ .Subject }}', 'user-1'],
    ['{{print .Extra.email}}', 'ann@example.com'],
    ['user={{ print .Subject }};mail={{ print .Extra.email }}', 'user=user-1;mail=ann@example.com'],
    ['{{ print .Extra.missing }}', ''],
    ['{{ print .Extra.email.deeper }}', ''],
    ['{{ .Extra.nested.a }}', '1'],
    ['{{ index .MatchContext.RegexpCaptureGroups 1 }}', 'd1'],
    ['{{ index .MatchContext.RegexpCaptureGroups 9 }}', ''],
    ['{{ .Extra.roles | toJson }}', '["homeowner"]'],
    ['{{ print .Extra.scope | toJson }}', '"openid device.read"'],
    ['{{ .Extra.absent | toJson }}', 'null'],
    ['a  {{- print .Subject -}}  b', 'auser-1b'],
    ['no actions', 'no actions'],
  ])('%s renders %j', (source, expected) => {
    expect(compileTemplate(source).render(data)).toBe(expected);
  });

  it.each(['{{ print .Subject ', '{{ exec "rm" }}', '{{ .Subject | upper }}', '{{ }}', '{{ Subject }}'])(
    'refuses %s when the rules load',
    (source) => {
      expect(() => compileTemplate(source)).toThrow(TemplateError);
    },
  );

  it('does not reach inherited properties', () => {
    expect(compileTemplate('{{ .Extra.constructor }}').render(data)).toBe('');
  });
});
