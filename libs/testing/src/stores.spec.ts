import { checkStores, redact, storeUrls, StoresUnavailableError } from './stores';

describe('store helpers', () => {
  it('redacts the password of a connection URL and nothing else', () => {
    expect(redact('postgres://fpa:s3cret@db.example.com:5432/fpa?sslmode=require')).toBe('postgres://fpa:***@db.example.com:5432/fpa?sslmode=require');
    expect(redact('redis://127.0.0.1:6379')).toBe('redis://127.0.0.1:6379');
    expect(redact('not a url')).toBe('<not a URL>');
  });

  it('reads DATABASE_URL and REDIS_URL, with local defaults', () => {
    expect(storeUrls({})).toEqual({ databaseUrl: 'postgres://postgres@127.0.0.1:5432/postgres', redisUrl: 'redis://127.0.0.1:6379' });
    expect(storeUrls({ DATABASE_URL: 'postgres://a@h/db', REDIS_URL: 'redis://r:1' })).toEqual({ databaseUrl: 'postgres://a@h/db', redisUrl: 'redis://r:1' });
  });

  it('refuses when PostgreSQL or Redis does not answer, naming each and what to start', async () => {
    const failure = checkStores({ databaseUrl: 'postgres://u:secretpw@127.0.0.1:1/db', redisUrl: 'redis://127.0.0.1:1', databaseVar: 'BENCH_DATABASE_URL' });
    await expect(failure).rejects.toThrow(StoresUnavailableError);
    await expect(failure).rejects.toThrow(
      /PostgreSQL is not reachable at postgres:\/\/u:\*\*\*@127\.0\.0\.1:1\/db \(ECONNREFUSED\)[\s\S]*pg_ctlcluster[\s\S]*BENCH_DATABASE_URL[\s\S]*Redis is not reachable at redis:\/\/127\.0\.0\.1:1 \(ECONNREFUSED\)[\s\S]*redis-server --daemonize yes/,
    );
    await expect(failure).rejects.not.toThrow(/secretpw/);
  });
});
