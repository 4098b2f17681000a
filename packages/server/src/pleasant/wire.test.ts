import { describe, expect, it } from 'vitest';
import { loggableUrl, rewritePleasantUrl } from './url.js';
import { dateMember, member, parseGuid, pleasantDate, pleasantField } from './wire.js';
import { estimateStrength } from './strength.js';
import { tokenParameters } from './token.js';
import { deleteAction, unwrapItem } from './input.js';

/** The pure parts of the Pleasant wire format, without a server. */
describe('Pleasant paths', () => {
  it('lower-cases Pleasant paths and drops trailing slashes, leaving queries and other URLs alone', () => {
    expect(rewritePleasantUrl('/OAuth2/Token')).toBe('/oauth2/token');
    expect(rewritePleasantUrl('/oauth2/token/?a=B')).toBe('/oauth2/token?a=B');
    expect(rewritePleasantUrl('/API/V5/REST/Entries/ABC/Password/')).toBe(
      '/api/v5/rest/entries/abc/password',
    );
    expect(rewritePleasantUrl('/api/v6/rest/folders/X?recurseLevel=2')).toBe(
      '/api/v6/rest/folders/x?recurseLevel=2',
    );
    expect(rewritePleasantUrl('/api/v5/rest/')).toBe('/api/v5/rest');
    // Not Pleasant: untouched (the native API is case-sensitive).
    for (const url of ['/API/V1/ME', '/api/v1/vault/tree/', '/api/v5/restless', '/oauth2/tokens']) {
      expect(rewritePleasantUrl(url)).toBe(url);
    }
  });

  it('keeps the token endpoint query string out of logs', () => {
    expect(loggableUrl('/OAuth2/Token?username=a&password=secret')).toBe('/OAuth2/Token?…');
    expect(loggableUrl('/oauth2/token/?password=secret')).toBe('/oauth2/token/?…');
    expect(loggableUrl('/api/v5/rest/folders/x?recurseLevel=1')).toBe(
      '/api/v5/rest/folders/x?recurseLevel=1',
    );
  });
});

describe('Pleasant values', () => {
  it('reads GUIDs in the forms .NET writes and refuses anything else', () => {
    const id = '3f2a1b4c-0000-4000-8000-00000000abcd';
    for (const text of [id, id.toUpperCase(), `{${id}}`, id.replace(/-/g, ''), ` ${id} `]) {
      expect(parseGuid(text, 'Id')).toBe(id);
    }
    for (const bad of ['', 'root', `${id}0`, `(${id})`, 42, null, {}, 'g'.repeat(32)]) {
      expect(() => parseGuid(bad, 'GroupId')).toThrow(/GUID/);
    }
  });

  it('matches member names in any case, an exact match first', () => {
    expect(member({ name: 'a' }, 'Name')).toBe('a');
    expect(member({ NAME: 'a', Name: 'b' }, 'Name')).toBe('b');
    expect(member({ other: 1 }, 'Name')).toBeUndefined();
    expect(
      member(JSON.parse('{"__proto__": {"x": 1}}') as Record<string, unknown>, 'x'),
    ).toBeUndefined();
  });

  it('writes dates with an explicit offset and reads them with or without one', () => {
    expect(pleasantDate('2030-01-02T03:04:05.000Z')).toBe('2030-01-02T03:04:05.000+00:00');
    expect(pleasantDate(null)).toBeNull();
    const read = (v: unknown) => dateMember({ Expires: v }, 'Expires');
    expect(read('2030-01-02T03:04:05+02:00')).toBe('2030-01-02T01:04:05.000Z');
    expect(read('2030-01-02T03:04:05-0130')).toBe('2030-01-02T04:34:05.000Z');
    expect(read('2030-01-02T03:04:05')).toBe('2030-01-02T03:04:05.000Z');
    expect(read('2030-01-02T03:04:05.1234567Z')).toBe('2030-01-02T03:04:05.123Z');
    expect(read('2030-01-02')).toBe('2030-01-02T00:00:00.000Z');
    expect(read(null)).toBeNull();
    expect(read('')).toBeNull();
    expect(dateMember({}, 'Expires')).toBeUndefined();
    for (const bad of ['tomorrow', '2030-13-45T00:00:00Z', 12, '2030-01-02T03:04:05+25:00x']) {
      expect(() => read(bad)).toThrow(/ISO 8601/);
    }
  });

  it('names the fields of our services as Pleasant names them', () => {
    expect(pleasantField('/name')).toBe('Name');
    expect(pleasantField('/attachments/0/data')).toBe('Attachments/0/FileData');
    expect(pleasantField('/folderId')).toBe('GroupId');
    expect(pleasantField('Tags/1/Name')).toBe('Tags/1/Name');
  });

  it('unwraps {"Item": …} and reads DELETE actions', () => {
    expect(unwrapItem({ Item: { Name: 'x' }, Comment: 'c' })).toEqual({ Name: 'x' });
    expect(unwrapItem({ item: { Name: 'y' } })).toEqual({ Name: 'y' });
    expect(unwrapItem({ Name: 'z' })).toEqual({ Name: 'z' });
    expect(() => unwrapItem({ Item: 'x' })).toThrow();
    expect(deleteAction(undefined)).toBe('archive');
    expect(deleteAction({ Comment: 'only' })).toBe('archive');
    expect(deleteAction({ Action: 'DELETE' })).toBe('delete');
    expect(deleteAction({ action: 0 })).toBe('archive');
    expect(() => deleteAction({ Action: 'purge' })).toThrow(/Archive/);
    expect(() => deleteAction([])).toThrow();
  });
});

describe('token request parameters', () => {
  it('reads a form whatever it is labelled, a JSON object, or else the query string', () => {
    expect(tokenParameters('grant_type=password&UserName=a%40b&password=p%26q', '')).toEqual({
      grant_type: 'password',
      username: 'a@b',
      password: 'p&q',
    });
    expect(tokenParameters('{"Grant_Type":"password","username":"a","password":"p"}', '')).toEqual({
      grant_type: 'password',
      username: 'a',
      password: 'p',
    });
    expect(tokenParameters('', 'grant_type=password&username=q&password=r')).toEqual({
      grant_type: 'password',
      username: 'q',
      password: 'r',
    });
    // The body wins over the query string; the first of a repeated parameter counts.
    expect(tokenParameters('username=body&username=second', 'username=query')).toEqual({
      username: 'body',
    });
    expect(Object.getPrototypeOf(tokenParameters('__proto__=x', ''))).toBeNull();
  });
});

describe('password strength estimate', () => {
  it('rates common, short, repetitive and sequential passwords low and long random ones high', () => {
    expect(estimateStrength('')).toMatchObject({ score: 0, description: 'Very weak' });
    expect(estimateStrength('Password')).toMatchObject({ score: 0, description: 'Very weak' });
    expect(estimateStrength('aaaaaaaaaaaaaaaa').score).toBeLessThan(20);
    expect(estimateStrength('abcdefghijklmnop').score).toBeLessThan(20);
    expect(estimateStrength('qwertyuiopasdfgh').score).toBeLessThan(20);
    expect(estimateStrength('Tr0ub4dor&3').description).toBe('Medium');
    expect(estimateStrength('correct horse battery staple').description).toBe('Strong');
    expect(estimateStrength('k7#Qv!9@Lr2$Xw^5&Zp8*Mn')).toMatchObject({
      score: 100,
      description: 'Very strong',
    });
  });

  it('never scores a password lower for adding a fresh character', () => {
    const base = 'n7Rq#2';
    let last = estimateStrength(base).score;
    for (const c of 'Zk9$wP4!') {
      const next = estimateStrength(base + c).score;
      expect(next).toBeGreaterThanOrEqual(last);
      last = next;
    }
  });
});
