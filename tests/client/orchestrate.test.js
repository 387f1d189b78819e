'use strict'
// The official Orchestrate Node.js client (npm "orchestrate" 0.8.2), unchanged
// except for its endpoint, against Orchid. Run through tests/client/run.sh,
// or by hand against any server:
//
//   ORCHID_URL=127.0.0.1:8080 ORCHID_KEY=... node --test tests/client/
//
// ORCHID_URL is host:port (an http:// prefix is tolerated and dropped).
// Every test works in collections of its own, named after this run, so the
// suite can run against a server that already holds data.

const { describe, it, before } = require('node:test')
const assert = require('node:assert/strict')
const Orchestrate = require('orchestrate')

const ENDPOINT = (process.env.ORCHID_URL || '').replace(/^https?:\/\//, '').replace(/\/+$/, '')
const KEY = process.env.ORCHID_KEY || ''
if (!ENDPOINT || !KEY) {
  throw new Error('set ORCHID_URL (host:port) and ORCHID_KEY, or use tests/client/run.sh')
}

// The scheme is a module-level static of the client (reference §1, §5.1).
Orchestrate.ApiProtocol = 'http:'
const db = Orchestrate(KEY, ENDPOINT)

// Per top-level suite: a server that stops answering fails the run.
const TIMEOUT = { timeout: 60000 }

const RUN = 'js' + Date.now().toString(36) + process.pid.toString(36)
const REF_RE = /^[0-9a-f]{16}$/

function coll (name) {
  return RUN + '_' + name
}

// Awaits a client promise that must reject with an HTTP response of the
// given status (the client rejects with the response object itself).
async function expectStatus (promise, status) {
  let res
  try {
    res = await promise
  } catch (err) {
    if (!err || typeof err.statusCode !== 'number') throw err
    assert.equal(err.statusCode, status,
      'expected ' + status + ', got ' + err.statusCode + ': ' + JSON.stringify(err.body))
    return err
  }
  assert.fail('expected a rejection with ' + status + ', got ' + res.statusCode +
    ': ' + JSON.stringify(res.body))
}

// A response whose Location/ETag the client parsed into res.path.
function assertItemPath (res, collection, key) {
  assert.ok(res.path, 'no res.path (Location missing or not under /v0/): ' +
    JSON.stringify(res.headers))
  assert.equal(res.path.collection, collection)
  if (key !== undefined) assert.equal(res.path.key, key)
  assert.match(res.path.ref, REF_RE, 'ETag: ' + res.headers.etag)
  // A weak ETag (nginx gzip) would turn into "W/..." in the client.
  assert.equal(res.headers.etag, '"' + res.path.ref + '"')
}

describe('connection', TIMEOUT, () => {
  it('ping() succeeds with the key', async () => {
    const res = await db.ping()
    assert.equal(res.statusCode, 200)
  })

  it('ping() with an unknown key is rejected with 401', async () => {
    const other = Orchestrate('not-a-key-' + RUN, ENDPOINT)
    const err = await expectStatus(other.ping(), 401)
    assert.ok(err.headers['www-authenticate'])
  })
})

describe('items', TIMEOUT, () => {
  const c = coll('items')

  it('put, get, get by ref', async () => {
    const v1 = { name: 'Ada', n: 1, tags: ['a', 'b'], nested: { x: 1.5, y: null } }
    const put = await db.put(c, 'k1', v1)
    assert.equal(put.statusCode, 201)
    assertItemPath(put, c, 'k1')
    assert.equal(put.headers.location, '/v0/' + c + '/k1/refs/' + put.path.ref)

    const got = await db.get(c, 'k1')
    assert.equal(got.statusCode, 200)
    assert.deepEqual(got.body, v1)
    assert.equal(got.headers.etag, '"' + put.path.ref + '"')

    const v2 = { name: 'Ada', n: 2 }
    const put2 = await db.put(c, 'k1', v2)
    assert.notEqual(put2.path.ref, put.path.ref)
    assert.deepEqual((await db.get(c, 'k1')).body, v2)

    // GET by ref: the raw value of that version, not a wrapper.
    const old = await db.get(c, 'k1', put.path.ref)
    assert.equal(old.statusCode, 200)
    assert.deepEqual(old.body, v1)
    const cur = await db.get(c, 'k1', put2.path.ref)
    assert.deepEqual(cur.body, v2)

    await expectStatus(db.get(c, 'no-such-key'), 404)
    await expectStatus(db.get(c, 'k1', '0123456789abcdef'), 404)
  })

  it('same content gives the same ref', async () => {
    const a = await db.put(c, 'same1', { v: 'same' })
    const b = await db.put(coll('items2'), 'same2', { v: 'same' })
    assert.equal(a.path.ref, b.path.ref)
  })

  it('a key with a slash and spaces round-trips', async () => {
    const key = 'a/b c'
    const put = await db.put(c, key, { k: key })
    assert.equal(put.statusCode, 201)
    // The client leaves res.path.key percent-encoded (reference §5.11).
    assert.equal(decodeURIComponent(put.path.key), key)
    assert.deepEqual((await db.get(c, key)).body, { k: key })
  })

  it('list_refs: newest first, with and without values, paging', async () => {
    const k = 'hist'
    const refs = []
    for (let i = 1; i <= 3; i++) {
      refs.push((await db.put(c, k, { i })).path.ref)
    }
    const res = await db.list_refs(c, k)
    assert.equal(res.statusCode, 200)
    assert.equal(res.body.count, 3)
    assert.deepEqual(res.body.results.map(r => r.path.ref), refs.slice().reverse())
    for (const r of res.body.results) {
      assert.equal(r.path.collection, c)
      assert.equal(r.path.key, k)
      assert.equal(typeof r.reftime, 'number')
      assert.equal(r.value, undefined, 'value without values=true')
    }
    assert.equal(res.body.next, undefined)
    assert.ok(!(res.links && res.links.next))

    const withValues = await db.list_refs(c, k, { values: true })
    assert.deepEqual(withValues.body.results.map(r => r.value), [{ i: 3 }, { i: 2 }, { i: 1 }])

    // Paging one version at a time through the Link header.
    let page = await db.list_refs(c, k, { limit: 1, values: true })
    const seen = []
    for (;;) {
      assert.equal(page.body.count, 1)
      seen.push(page.body.results[0].value.i)
      if (!page.links || !page.links.next) break
      assert.equal(page.body.next, page.links.next.url)
      page = await page.links.next.get()
    }
    assert.deepEqual(seen, [3, 2, 1])

    // list_refs(c, k, n): the deprecated numeric limit.
    const two = await db.list_refs(c, k, 2)
    assert.equal(two.body.count, 2)
    assert.ok(two.links.next)
  })

  it('conditional put with a ref; stale ref 412, malformed 400', async () => {
    const k = 'cond'
    const first = await db.put(c, k, { v: 1 })
    const second = await db.put(c, k, { v: 2 }, first.path.ref) // If-Match: "ref"
    assert.equal(second.statusCode, 201)
    assertItemPath(second, c, k)
    assert.deepEqual((await db.get(c, k)).body, { v: 2 })

    // The stale ref: rejected, nothing written.
    const stale = await expectStatus(db.put(c, k, { v: 3 }, first.path.ref), 412)
    assert.equal(stale.body.code, 'item_version_mismatch')
    assert.deepEqual((await db.get(c, k)).body, { v: 2 })

    // A pre-quoted ref is sent as is.
    const quoted = await db.put(c, k, { v: 4 }, '"' + second.path.ref + '"')
    assert.equal(quoted.statusCode, 201)

    // If-Match: "badetag" (the client's own live test): 400.
    const bad = await expectStatus(db.put(c, k, { v: 5 }, 'badetag'), 400)
    assert.equal(bad.body.code, 'item_ref_malformed')
    assert.deepEqual((await db.get(c, k)).body, { v: 4 })

    // If-Match on a key that does not exist: 412.
    await expectStatus(db.put(c, 'cond-missing', { v: 1 }, first.path.ref), 412)
  })

  it('put with false (If-None-Match: "*")', async () => {
    const k = 'create-only'
    const res = await db.put(c, k, { v: 1 }, false)
    assert.equal(res.statusCode, 201)
    assertItemPath(res, c, k)
    const err = await expectStatus(db.put(c, k, { v: 2 }, false), 412)
    assert.equal(err.body.code, 'item_already_present')
    assert.deepEqual((await db.get(c, k)).body, { v: 1 })
  })

  it('remove leaves a tombstone; old refs stay readable', async () => {
    const k = 'gone'
    const put = await db.put(c, k, { v: 'before' })
    const del = await db.remove(c, k)
    assert.equal(del.statusCode, 204)
    await expectStatus(db.get(c, k), 404)
    assert.deepEqual((await db.get(c, k, put.path.ref)).body, { v: 'before' })

    const refs = await db.list_refs(c, k, { values: true })
    assert.equal(refs.body.count, 2)
    assert.equal(refs.body.results[0].path.tombstone, true)
    assert.equal(refs.body.results[0].value, undefined)
    assert.equal(refs.body.results[1].path.ref, put.path.ref)
    assert.deepEqual(refs.body.results[1].value, { v: 'before' })

    // Deleting again (or deleting a missing key) is still 204.
    assert.equal((await db.remove(c, k)).statusCode, 204)
    assert.equal((await db.remove(c, 'never-there')).statusCode, 204)
    // remove(c, k, false) sends purge=false: an ordinary delete.
    assert.equal((await db.remove(c, 'never-there', false)).statusCode, 204)

    // A tombstoned key counts as absent for If-None-Match.
    assert.equal((await db.put(c, k, { v: 'again' }, false)).statusCode, 201)
  })

  it('remove with purge drops every version', async () => {
    const k = 'purged'
    const p1 = await db.put(c, k, { v: 1 })
    const p2 = await db.put(c, k, { v: 2 })
    const del = await db.remove(c, k, true)
    assert.equal(del.statusCode, 204)
    await expectStatus(db.get(c, k), 404)
    await expectStatus(db.get(c, k, p1.path.ref), 404)
    await expectStatus(db.get(c, k, p2.path.ref), 404)
    await expectStatus(db.list_refs(c, k), 404)
  })

  it('post generates a key', async () => {
    const pc = coll('posted')
    const value = { posted: true }
    const res = await db.post(pc, value)
    assert.equal(res.statusCode, 201)
    assertItemPath(res, pc)
    assert.match(res.path.key, /^[0-9a-f]{16}$/)
    assert.deepEqual((await db.get(pc, res.path.key)).body, value)
    const again = await db.post(pc, value)
    assert.notEqual(again.path.key, res.path.key)
    assert.equal(again.path.ref, res.path.ref)
  })

  describe('listing a collection', () => {
    const lc = coll('list')
    const keys = ['a', 'b', 'c', 'd', 'e', 'f', 'g']

    before(async () => {
      // Written out of order; a deleted item must not be listed.
      for (const k of keys.slice().reverse()) await db.put(lc, k, { k })
      await db.put(lc, 'zz-deleted', { k: 'zz' })
      await db.remove(lc, 'zz-deleted')
    })

    it('pages with limit and links.next.get()', async () => {
      let res = await db.list(lc, { limit: 3 })
      const pages = []
      for (;;) {
        assert.equal(res.statusCode, 200)
        assert.equal(res.body.count, res.body.results.length)
        for (const r of res.body.results) {
          assert.equal(r.path.collection, lc)
          assert.equal(r.path.kind, 'item')
          assert.match(r.path.ref, REF_RE)
          assert.equal(typeof r.path.reftime, 'number')
          assert.deepEqual(r.value, { k: r.path.key })
        }
        pages.push(res.body.results.map(r => r.path.key))
        if (!res.links || !res.links.next) {
          assert.equal(res.body.next, undefined)
          break
        }
        assert.equal(res.body.next, res.links.next.url)
        assert.ok(res.links.next.url.startsWith('/v0/'), res.links.next.url)
        res = await res.links.next.get()
      }
      assert.deepEqual(pages, [['a', 'b', 'c'], ['d', 'e', 'f'], ['g']])
    })

    it('key ranges: startKey/endKey inclusive, afterKey/beforeKey exclusive', async () => {
      const ks = res => res.body.results.map(r => r.path.key)
      assert.deepEqual(ks(await db.list(lc, { startKey: 'b', endKey: 'd' })), ['b', 'c', 'd'])
      assert.deepEqual(ks(await db.list(lc, { afterKey: 'b', beforeKey: 'd' })), ['c'])
      // list(c, n): the deprecated numeric limit.
      assert.deepEqual(ks(await db.list(lc, 2)), ['a', 'b'])
    })

    it('an unknown collection lists empty', async () => {
      const res = await db.list(coll('empty'))
      assert.equal(res.statusCode, 200)
      assert.equal(res.body.count, 0)
      assert.deepEqual(res.body.results, [])
    })
  })
})

describe('events', TIMEOUT, () => {
  const c = coll('events')
  const k = 'stream'

  function assertEventPath (res, type) {
    assert.ok(res.path, 'no res.path: ' + JSON.stringify(res.headers))
    assert.equal(res.path.collection, c)
    assert.equal(res.path.key, k)
    assert.equal(res.path.type, type)
    assert.equal(typeof res.path.timestamp, 'number')
    assert.ok(Number.isFinite(res.path.timestamp))
    assert.match(res.path.ordinal_str, /^[0-9]+$/)
    assert.match(res.path.ref, REF_RE)
  }

  function read (type, ts, ord) {
    return db.newEventReader().from(c, k).type(type).time(ts).ordinal(ord).get()
  }

  it('create without a time, get by time and ordinal', async () => {
    const before = Date.now()
    const res = await db.newEventBuilder().from(c, k).type('log').data({ msg: 'now' }).create()
    assert.equal(res.statusCode, 201)
    assertEventPath(res, 'log')
    assert.ok(res.path.timestamp >= before - 5000 && res.path.timestamp <= Date.now() + 5000,
      'server time ' + res.path.timestamp + ' vs client ' + before)

    const got = await read('log', res.path.timestamp, res.path.ordinal_str)
    assert.equal(got.statusCode, 200)
    // Single-event GET is the wrapper (reference §6).
    assert.deepEqual(got.body.value, { msg: 'now' })
    assert.equal(got.body.timestamp, res.path.timestamp)
    assert.equal(got.body.path.collection, c)
    assert.equal(got.body.path.key, k)
    assert.equal(got.body.path.type, 'log')
    assert.equal(got.body.path.ref, res.path.ref)
    assert.equal(got.headers.etag, '"' + res.path.ref + '"')
    assert.match(got.body.path.ordinal_str, /^[0-9a-f]{16}$/)
    assert.equal(BigInt('0x' + got.body.path.ordinal_str).toString(), res.path.ordinal_str)

    // The hex ordinal_str from a body is accepted in URLs as well.
    const byHex = await read('log', res.path.timestamp, got.body.path.ordinal_str)
    assert.deepEqual(byHex.body.value, { msg: 'now' })
  })

  it('create with a time', async () => {
    const ts = Date.UTC(2014, 3, 24, 18, 44, 13, 123)
    const res = await db.newEventBuilder().from(c, k).type('timed').time(ts)
      .data({ at: 'then' }).create()
    assert.equal(res.statusCode, 201)
    assertEventPath(res, 'timed')
    assert.equal(res.path.timestamp, ts)
    const got = await read('timed', ts, res.path.ordinal_str)
    assert.deepEqual(got.body.value, { at: 'then' })
    assert.equal(got.body.timestamp, ts)

    // Ancient timestamps (the client's own tests use 1, 2, 3 ms).
    const tiny = await db.newEventBuilder().from(c, k).type('timed').time(1)
      .data({ at: 'epoch' }).create()
    assert.equal(tiny.path.timestamp, 1)
    assert.deepEqual((await read('timed', 1, tiny.path.ordinal_str)).body.value, { at: 'epoch' })

    await expectStatus(read('timed', ts + 1, res.path.ordinal_str), 404)
  })

  it('update without and with a ref; stale ref 412', async () => {
    const created = await db.newEventBuilder().from(c, k).type('upd').time(5000)
      .data({ v: 1 }).create()
    const ts = created.path.timestamp
    const ord = created.path.ordinal_str

    const u1 = await db.newEventBuilder().from(c, k).type('upd').time(ts).ordinal(ord)
      .data({ v: 2 }).update()
    assert.ok([200, 201, 204].includes(u1.statusCode))
    const got1 = await read('upd', ts, ord)
    assert.deepEqual(got1.body.value, { v: 2 })
    const ref1 = got1.headers.etag.replace(/"/g, '')
    assert.match(ref1, REF_RE)
    assert.notEqual(ref1, created.path.ref)
    if (u1.headers.etag) assert.equal(u1.headers.etag, got1.headers.etag)

    const u2 = await db.newEventBuilder().from(c, k).type('upd').time(ts).ordinal(ord)
      .data({ v: 3 }).ref(ref1).update()
    assert.ok([200, 201, 204].includes(u2.statusCode))
    assert.deepEqual((await read('upd', ts, ord)).body.value, { v: 3 })

    const stale = db.newEventBuilder().from(c, k).type('upd').time(ts).ordinal(ord)
      .data({ v: 4 }).ref(ref1).update()
    await expectStatus(stale, 412)
    assert.deepEqual((await read('upd', ts, ord)).body.value, { v: 3 })

    // Updating an event that does not exist.
    const missing = db.newEventBuilder().from(c, k).type('upd').time(ts + 1).ordinal(ord)
      .data({ v: 5 }).update()
    await expectStatus(missing, 404)
  })

  it('remove via the builder', async () => {
    const created = await db.newEventBuilder().from(c, k).type('rm').time(7000)
      .data({ v: 'x' }).create()
    const ts = created.path.timestamp
    const ord = created.path.ordinal_str
    const del = await db.newEventBuilder().from(c, k).type('rm').time(ts).ordinal(ord).remove()
    assert.equal(del.statusCode, 204)
    await expectStatus(read('rm', ts, ord), 404)
    // Removing it again is still 204.
    const again = await db.newEventBuilder().from(c, k).type('rm').time(ts).ordinal(ord).remove()
    assert.equal(again.statusCode, 204)
  })

  describe('listing', () => {
    const type = 'series'
    const created = [] // [{ts, ord}] in creation order

    before(async () => {
      for (let i = 0; i < 10; i++) {
        const ts = 1000 + i * 10
        const res = await db.newEventBuilder().from(c, k).type(type).time(ts)
          .data({ i }).create()
        created.push({ ts, ord: res.path.ordinal_str, i })
      }
      // A second event in the same millisecond as i=4.
      const res = await db.newEventBuilder().from(c, k).type(type).time(1040)
        .data({ i: 'same-ms' }).create()
      created.push({ ts: 1040, ord: res.path.ordinal_str, i: 'same-ms' })
    })

    it('list everything, newest first', async () => {
      const res = await db.newEventReader().from(c, k).type(type).limit(100).list()
      assert.equal(res.statusCode, 200)
      assert.equal(res.body.count, 11)
      const values = res.body.results.map(r => r.value.i)
      assert.deepEqual(values, [9, 8, 7, 6, 5, 'same-ms', 4, 3, 2, 1, 0])
      for (const r of res.body.results) {
        assert.equal(r.path.collection, c)
        assert.equal(r.path.key, k)
        assert.equal(r.path.kind, 'event')
        assert.equal(r.path.type, type)
        assert.equal(r.path.timestamp, r.timestamp)
        assert.match(r.path.ordinal_str, /^[0-9a-f]{16}$/)
        assert.match(r.path.ref, REF_RE)
        assert.equal(typeof r.reftime, 'number')
        const mine = created.find(e => e.i === r.value.i)
        assert.equal(BigInt('0x' + r.path.ordinal_str).toString(), mine.ord)
        assert.equal(r.timestamp, mine.ts)
      }
      assert.ok(!(res.links && res.links.next))
    })

    it('start/end (inclusive) with limit, paging with links.next.get()', async () => {
      let res = await db.newEventReader().from(c, k).type(type)
        .start(1020).end(1070).limit(2).list()
      const pages = []
      for (;;) {
        assert.equal(res.statusCode, 200)
        assert.equal(res.body.count, res.body.results.length)
        pages.push(res.body.results.map(r => r.value.i))
        if (!res.links || !res.links.next) {
          assert.equal(res.body.next, undefined)
          break
        }
        assert.ok(res.links.next.url.startsWith('/v0/'), res.links.next.url)
        assert.equal(res.body.next, res.links.next.url)
        res = await res.links.next.get()
        assert.ok(pages.length < 20, 'paging does not end')
      }
      assert.deepEqual(pages.flat(), [7, 6, 5, 'same-ms', 4, 3, 2])
      assert.ok(pages.slice(0, -1).every(p => p.length === 2), JSON.stringify(pages))
    })

    it('the unset afterTime/beforeTime fields (no setters, reference §5.2)', async () => {
      const r = db.newEventReader().from(c, k).type(type)
      r.afterTime = 1020 // exclusive
      r.beforeTime = 1050 // exclusive
      const res = await r.list()
      // afterEvent=1020 and beforeEvent=1050 exclude those whole milliseconds.
      assert.deepEqual(res.body.results.map(x => x.value.i), ['same-ms', 4, 3])
    })

    it('removing an event takes it out of the list', async () => {
      const victim = created.find(e => e.i === 0)
      await db.newEventBuilder().from(c, k).type(type).time(victim.ts).ordinal(victim.ord).remove()
      const res = await db.newEventReader().from(c, k).type(type).start(1000).end(1010).list()
      assert.deepEqual(res.body.results.map(r => r.value.i), [1])
    })
  })

  it('events need no item, and purging the item removes them', async () => {
    const pc = coll('evpurge')
    const res = await db.newEventBuilder().from(pc, 'solo').type('t').data({ a: 1 }).create()
    await expectStatus(db.get(pc, 'solo'), 404)
    const ts = res.path.timestamp
    const ord = res.path.ordinal_str
    assert.deepEqual((await db.newEventReader().from(pc, 'solo').type('t').time(ts).ordinal(ord)
      .get()).body.value, { a: 1 })
    await db.put(pc, 'solo', { item: true })
    await db.remove(pc, 'solo', true)
    await expectStatus(db.newEventReader().from(pc, 'solo').type('t').time(ts).ordinal(ord)
      .get(), 404)
  })
})

describe('partial updates', TIMEOUT, () => {
  const c = coll('patch')

  it('merge: merges into the item, 201 with the new ref', async () => {
    await db.put(c, 'm', { name: 'Classic', profile: { a: 1, b: 2 }, drop: true })
    const res = await db.merge(c, 'm', { profile: { b: 20, c: 3 }, drop: null })
    assert.equal(res.statusCode, 201)
    assertItemPath(res, c, 'm')
    const got = await db.get(c, 'm')
    assert.deepEqual(got.body, { name: 'Classic', profile: { a: 1, b: 20, c: 3 } })
    assert.equal(got.headers.etag, '"' + res.path.ref + '"')
  })

  it('merge: a stale match is 412; a missing key is 404; upsert creates', async () => {
    const first = await db.put(c, 'mm', { n: 1 })
    await db.merge(c, 'mm', { n: 2 })
    await expectStatus(db.merge(c, 'mm', { n: 3 }, { match: first.path.ref }), 412)
    await expectStatus(db.merge(c, 'nobody', { n: 1 }), 404)
    const up = await db.merge(c, 'upserted', { type: 'consultant' }, { upsert: true })
    assert.equal(up.statusCode, 201)
    assert.deepEqual((await db.get(c, 'upserted')).body, { type: 'consultant' })
    assert.deepEqual((await db.get(c, 'mm')).body, { n: 2 })
  })

  it('the patch builder: every op', async () => {
    await db.put(c, 'pb', {
      name: 'Classic', sugar: 10, tags: ['a'], profile: { x: 1 }, old: 1, gone: true
    })
    const res = await db.newPatchBuilder(c, 'pb')
      .add('color', 'red')
      .remove('gone')
      .replace('name', 'Cherry')
      .move('old', 'was_old')
      .copy('name', 'alias')
      .test('sugar', 10)
      .testNot('sugar', 11)
      .inc('sugar', 5)
      .inc('count')
      .init('sugar', 99)
      .init('fresh', 0)
      .append('tags', 'b')
      .append('tags', ['c', 'd'])
      .merge('profile', { y: 2 })
      .patch('profile', [{ op: 'inc', path: 'y', value: 3 }])
      .patchIf('profile', [{ op: 'test', path: 'y', value: 0 }, { op: 'add', path: 'never', value: 1 }])
      .apply()
    assert.equal(res.statusCode, 201)
    assertItemPath(res, c, 'pb')
    assert.deepEqual((await db.get(c, 'pb')).body, {
      name: 'Cherry',
      sugar: 15,
      tags: ['a', 'b', 'c', 'd'],
      profile: { x: 1, y: 5 },
      color: 'red',
      was_old: 1,
      alias: 'Cherry',
      count: 1,
      fresh: 0
    })
  })

  it('the patch builder: a failed test is 409 and nothing is applied', async () => {
    const put = await db.put(c, 'pt', { n: 1 })
    const err = await expectStatus(db.newPatchBuilder(c, 'pt').inc('n').test('n', 99).apply(), 409)
    assert.equal(err.body.code, 'patch_conflict')
    const hist = await db.list_refs(c, 'pt')
    assert.deepEqual(hist.body.results.map(r => r.path.ref), [put.path.ref])
  })

  it('the patch builder: match and upsert', async () => {
    const put = await db.put(c, 'pm', { n: 1 })
    const ok = await db.newPatchBuilder(c, 'pm').inc('n').apply(put.path.ref)
    assert.equal(ok.statusCode, 201)
    await expectStatus(db.newPatchBuilder(c, 'pm').inc('n').apply(put.path.ref), 412)
    await expectStatus(db.newPatchBuilder(c, 'pnone').add('a', 1).apply(), 404)
    const up = await db.newPatchBuilder(c, 'pnew').add('a', 1).upsert(true).apply()
    assert.equal(up.statusCode, 201)
    assert.deepEqual((await db.get(c, 'pnew')).body, { a: 1 })
    assert.deepEqual((await db.get(c, 'pm')).body, { n: 2 })
  })

  it('patch(): an op list, dotted paths into objects created by init', async () => {
    await db.put(c, 'pd', { a: 1 })
    const res = await db.patch(c, 'pd', [
      { op: 'init', path: 'profile', value: {} },
      { op: 'add', path: 'profile.description', value: 'x' }
    ])
    assert.equal(res.statusCode, 201)
    assert.deepEqual((await db.get(c, 'pd')).body, { a: 1, profile: { description: 'x' } })
  })
})

describe('field filtering', TIMEOUT, () => {
  const c = coll('fields')
  const value = { name: 'Classic', sugar: 10, profile: { a: 1, b: 2 } }

  before(async () => {
    await db.put(c, 'k1', value)
    await db.put(c, 'k2', Object.assign({}, value, { name: 'Cherry' }))
  })

  it('get with with_fields / without_fields', async () => {
    assert.deepEqual((await db.get(c, 'k1', null, { with_fields: 'value.name' })).body,
      { name: 'Classic' })
    assert.deepEqual((await db.get(c, 'k1', null, { without_fields: 'value.profile' })).body,
      { name: 'Classic', sugar: 10 })
    const put = await db.put(c, 'k3', value)
    assert.deepEqual((await db.get(c, 'k3', put.path.ref, { with_fields: 'profile.b' })).body,
      { profile: { b: 2 } })
  })

  it('list and list_refs with field filters', async () => {
    const res = await db.list(c, { limit: 2, with_fields: ['value.name', 'value.sugar'] })
    assert.deepEqual(res.body.results.map(r => r.value),
      [{ name: 'Classic', sugar: 10 }, { name: 'Cherry', sugar: 10 }])
    const refs = await db.list_refs(c, 'k1', { values: true, without_fields: 'value.profile,value.sugar' })
    assert.deepEqual(refs.body.results.map(r => r.value), [{ name: 'Classic' }])
  })

  it('the event reader withFields / withoutFields', async () => {
    await db.newEventBuilder().from(c, 'k1').type('t').data({ a: 1, b: 2 }).create()
    const w = await db.newEventReader().from(c, 'k1').type('t').withFields('value.a').list()
    assert.deepEqual(w.body.results.map(r => r.value), [{ a: 1 }])
    const wo = await db.newEventReader().from(c, 'k1').type('t').withoutFields('value.a').list()
    assert.deepEqual(wo.body.results.map(r => r.value), [{ b: 2 }])
  })

  it('a malformed field list is 400, never ignored', async () => {
    await expectStatus(db.get(c, 'k1', null, { with_fields: 'a,,b' }), 400)
  })
})

describe('collections', TIMEOUT, () => {
  it('deleteCollection: 204, then the collection is empty, and a new put starts afresh', async () => {
    const c = coll('drop')
    const first = await db.put(c, 'a', { v: 1 })
    await db.put(c, 'a', { v: 2 })
    await db.put(c, 'b', { v: 3 })
    await db.newEventBuilder().from(c, 'a').type('t').data({ e: 1 }).create()
    const res = await db.deleteCollection(c)
    assert.equal(res.statusCode, 204)
    await expectStatus(db.get(c, 'a'), 404)
    await expectStatus(db.get(c, 'a', first.path.ref), 404)
    assert.equal((await db.list(c)).body.count, 0)
    assert.equal((await db.newEventReader().from(c, 'a').type('t').list()).body.count, 0)
    await db.put(c, 'a', { v: 4 })
    const refs = await db.list_refs(c, 'a', { values: true })
    assert.deepEqual(refs.body.results.map(r => r.value), [{ v: 4 }])
    // A collection that does not exist: 204 too.
    assert.equal((await db.deleteCollection(coll('never'))).statusCode, 204)
  })
})

// Graph relations through the client's GraphBuilder (reference §4, §5.5):
// .to() must come before .related() on a reader, or it lists instead.
describe('graph', TIMEOUT, () => {
  const users = coll('gusers')
  const photos = coll('gphotos')

  function link (from, kind, to, data, ref) {
    let b = db.newGraphBuilder().create()
    if (data !== undefined) b = b.data(data)
    if (ref !== undefined) b = b.ref(ref)
    return b.from(from[0], from[1]).related(kind).to(to[0], to[1])
  }

  function relation (from, kind, to) {
    return db.newGraphReader().get().from(from[0], from[1]).to(to[0], to[1]).related(kind)
  }

  function keysOf (res) {
    return res.body.results.map(r => r.path.collection + '/' + r.path.key)
  }

  before(async () => {
    for (const k of ['kate', 'tom', 'ann', 'bob']) await db.put(users, k, { name: k })
    for (const k of ['p1', 'p2', 'p3']) await db.put(photos, k, { photo: k })
  })

  it('create without data: 201 with ETag and Location, properties {}', async () => {
    const res = await link([users, 'kate'], 'friend', [users, 'tom'])
    assert.equal(res.statusCode, 201)
    assert.match(res.headers.etag, /^"[0-9a-f]{16}"$/)
    assert.equal(res.headers.location, '/v0/' + users + '/kate/relation/friend/' + users + '/tom')
    const got = await relation([users, 'kate'], 'friend', [users, 'tom'])
    assert.equal(got.statusCode, 200)
    assert.deepEqual(got.body, {})
    assert.equal(got.headers.etag, res.headers.etag)
  })

  it('create with data, get it back, conditional updates with ref()', async () => {
    const data = { since: 2014, how: 'school' }
    const res = await link([users, 'kate'], 'friend', [users, 'ann'], data)
    assert.equal(res.statusCode, 201)
    const got = await relation([users, 'kate'], 'friend', [users, 'ann'])
    assert.deepEqual(got.body, data)
    const ref = got.headers.etag.replace(/"/g, '')
    // If-Match with the current ref, then with the stale one.
    const upd = await link([users, 'kate'], 'friend', [users, 'ann'], { since: 2015 }, ref)
    assert.equal(upd.statusCode, 201)
    assert.notEqual(upd.headers.etag, got.headers.etag)
    await expectStatus(link([users, 'kate'], 'friend', [users, 'ann'], { since: 2016 }, ref), 412)
    assert.deepEqual((await relation([users, 'kate'], 'friend', [users, 'ann'])).body, { since: 2015 })
    // ref(false): If-None-Match "*".
    await expectStatus(link([users, 'kate'], 'friend', [users, 'ann'], { x: 1 }, false), 412)
    const fresh = await link([users, 'tom'], 'friend', [users, 'ann'], { x: 1 }, false)
    assert.equal(fresh.statusCode, 201)
  })

  it('a missing endpoint is 404 items_not_found naming it; a missing relation 404', async () => {
    const err = await expectStatus(link([users, 'kate'], 'likes', [photos, 'nope']), 404)
    assert.equal(err.body.code, 'items_not_found')
    assert.deepEqual(err.body.details.items, [{ collection: photos, key: 'nope' }])
    const miss = await expectStatus(relation([users, 'tom'], 'likes', [photos, 'p1']), 404)
    assert.equal(miss.body.message, 'The requested graph relationship could not be found.')
  })

  it('one hop and several hops list the items reached, each once', async () => {
    await link([users, 'tom'], 'likes', [photos, 'p2'])
    await link([users, 'ann'], 'likes', [photos, 'p2'])
    await link([users, 'ann'], 'likes', [photos, 'p3'])
    await link([users, 'kate'], 'likes', [photos, 'p1'])
    const one = await db.newGraphReader().get().from(users, 'kate').related('friend')
    assert.equal(one.statusCode, 200)
    assert.deepEqual(keysOf(one), [users + '/ann', users + '/tom'])
    assert.equal(one.body.count, 2)
    const r = one.body.results[0]
    assert.deepEqual(r.value, { name: 'ann' })
    assert.equal(r.path.kind, 'item')
    assert.match(r.path.ref, REF_RE)
    assert.equal(typeof r.reftime, 'number')
    const two = await db.newGraphReader().get().from(users, 'kate').related('friend', 'likes')
    assert.deepEqual(keysOf(two), [photos + '/p2', photos + '/p3'])
    const filtered = await db.newGraphReader().get().withFields('value.photo')
      .from(users, 'kate').related('friend', 'likes')
    assert.deepEqual(filtered.body.results.map(x => x.value), [{ photo: 'p2' }, { photo: 'p3' }])
  })

  it('limit and offset page a traversal; links.next.get() follows', async () => {
    const page = await db.newGraphReader().get().limit(1).offset(1).from(users, 'kate')
      .related('friend')
    assert.deepEqual(keysOf(page), [users + '/tom'])
    assert.ok(page.body.prev)
    const first = await db.newGraphReader().get().limit(1).from(users, 'kate').related('friend')
    assert.deepEqual(keysOf(first), [users + '/ann'])
    assert.equal(first.body.next, first.links.next.url)
    const second = await first.links.next.get()
    assert.deepEqual(keysOf(second), [users + '/tom'])
    assert.ok(!(second.links && second.links.next))
  })

  it('remove: 204, the relation is gone, removing again is 204', async () => {
    await link([users, 'bob'], 'friend', [users, 'tom'])
    const del = await db.newGraphBuilder().remove().from(users, 'bob').related('friend').to(users, 'tom')
    assert.equal(del.statusCode, 204)
    await expectStatus(relation([users, 'bob'], 'friend', [users, 'tom']), 404)
    const again = await db.newGraphBuilder().remove().from(users, 'bob').related('friend').to(users, 'tom')
    assert.equal(again.statusCode, 204)
    assert.equal((await db.newGraphReader().get().from(users, 'bob').related('friend')).body.count, 0)
  })

  it('purging an item removes its relations both ways', async () => {
    await db.put(users, 'gone', { name: 'gone' })
    await link([users, 'gone'], 'friend', [users, 'kate'])
    await link([users, 'bob'], 'friend', [users, 'gone'])
    await db.remove(users, 'gone', true)
    await db.put(users, 'gone', { name: 'again' })
    assert.equal((await db.newGraphReader().get().from(users, 'gone').related('friend')).body.count, 0)
    assert.equal((await db.newGraphReader().get().from(users, 'bob').related('friend')).body.count, 0)
  })
})

// Search (reference §4 "search", "newSearchBuilder"; orchestrate-api.md §8).
// No sleeps anywhere: Orchid makes a write searchable by the time its 2xx
// arrives. Every test writes its own data set into collections of its own
// and searches at once.
describe('search', TIMEOUT, () => {
  function keys (res) {
    return res.body.results.map(r => r.path.key)
  }

  async function putAll (c, items) {
    const refs = {}
    for (const [k, v] of Object.entries(items)) refs[k] = (await db.put(c, k, v)).path.ref
    return refs
  }

  // The search result envelope: count, total_count, results (and no more
  // than next, prev, aggregates).
  function assertEnvelope (res) {
    assert.equal(res.statusCode, 200)
    const extra = Object.keys(res.body).filter(k =>
      !['count', 'total_count', 'results', 'next', 'prev', 'aggregates'].includes(k))
    assert.deepEqual(extra, [], JSON.stringify(res.body))
    assert.equal(res.body.count, res.body.results.length)
    assert.equal(typeof res.body.total_count, 'number')
    assert.ok(res.body.total_count >= res.body.count)
  }

  // Great-circle distance from (0, 0) to (0, lon) on Xapian's sphere
  // (GreatCircleMetric, radius 6372797.6 m), in metres.
  function metresAlongEquator (lon) {
    return 6372797.6 * lon * Math.PI / 180
  }

  function assertNear (actual, expected, what) {
    assert.equal(typeof actual, 'number', what + ': ' + actual)
    assert.ok(Math.abs(actual - expected) <= 0.001 * expected + 1e-9,
      what + ': ' + actual + ' vs ' + expected)
  }

  describe('db.search', () => {
    it('finds a write at once; result shape of an item', async () => {
      const c = coll('s_basic')
      const value = { name: 'Ada Lovelace', born: 1815, tags: ['math', 'poetry'] }
      const put = await db.put(c, 'ada', value)
      await db.put(c, 'bob', { name: 'Bob', born: 1900 })
      const res = await db.search(c, 'value.name:ada')
      assertEnvelope(res)
      assert.equal(res.body.count, 1)
      assert.equal(res.body.total_count, 1)
      const r = res.body.results[0]
      assert.deepEqual(Object.keys(r.path).sort(), ['collection', 'key', 'kind', 'ref', 'reftime'])
      assert.equal(r.path.collection, c)
      assert.equal(r.path.kind, 'item')
      assert.equal(r.path.key, 'ada')
      assert.equal(r.path.ref, put.path.ref)
      assert.equal(typeof r.path.reftime, 'number')
      assert.equal(r.reftime, r.path.reftime)
      assert.deepEqual(r.value, value)
      assert.equal(typeof r.score, 'number')
      assert.equal(res.body.next, undefined)
      assert.equal(res.body.prev, undefined)
      assert.ok(!(res.links && res.links.next))

      // Unfielded terms, bare field names, numbers and backticks.
      assert.deepEqual(keys(await db.search(c, 'poetry')), ['ada'])
      assert.deepEqual(keys(await db.search(c, 'name:bob')), ['bob'])
      assert.deepEqual(keys(await db.search(c, 'value.born:1815')), ['ada'])
      assert.deepEqual(keys(await db.search(c, 'value.name:`Ada Lovelace`')), ['ada'])
      assert.deepEqual(keys(await db.search(c, 'value.name:`ada lovelace`')), [])
      assert.deepEqual(keys(await db.search(c, 'value.born:[1800 TO 1850]')), ['ada'])
      assert.deepEqual(keys(await db.search(c, 'value.nothing:ada')), [])
    })

    it('every write is found by the next search, with no sleep', async () => {
      const c = coll('s_fresh')
      for (let i = 0; i < 10; i++) {
        const k = 'w' + i
        await db.put(c, k, { word: 'fresh' + i })
        assert.deepEqual(keys(await db.search(c, 'value.word:fresh' + i)), [k], 'after put ' + k)
        assert.equal((await db.search(c, '*')).body.total_count, i + 1)
      }
      // Replace: the new value is found, the old one is not.
      await db.put(c, 'w0', { word: 'replaced' })
      assert.deepEqual(keys(await db.search(c, 'value.word:replaced')), ['w0'])
      assert.deepEqual(keys(await db.search(c, 'value.word:fresh0')), [])
      // merge and patch.
      await db.merge(c, 'w1', { extra: 'merged' })
      assert.deepEqual(keys(await db.search(c, 'value.extra:merged')), ['w1'])
      await db.newPatchBuilder(c, 'w2').add('extra', 'patched').apply()
      assert.deepEqual(keys(await db.search(c, 'value.extra:patched')), ['w2'])
      // post.
      const posted = await db.post(c, { word: 'posted' })
      assert.deepEqual(keys(await db.search(c, 'value.word:posted')), [posted.path.key])
      // Delete and purge take the item out of the results at once.
      await db.remove(c, 'w3')
      assert.deepEqual(keys(await db.search(c, 'value.word:fresh3')), [])
      await db.remove(c, 'w4', true)
      assert.deepEqual(keys(await db.search(c, 'value.word:fresh4')), [])
      assert.equal((await db.search(c, '*')).body.total_count, 9)
      // Deleting the collection empties its search.
      await db.deleteCollection(c)
      const gone = await db.search(c, '*')
      assertEnvelope(gone)
      assert.equal(gone.body.total_count, 0)
      assert.deepEqual(gone.body.results, [])
    })

    it('limit, offset and sort options; limit 0; values=false', async () => {
      const c = coll('s_opts')
      const items = {}
      for (let n = 1; n <= 7; n++) items['n' + n] = { n, t: 'optword' }
      await putAll(c, items)
      const res = await db.search(c, 'optword', { sort: 'value.n:asc', limit: 3, offset: 2 })
      assertEnvelope(res)
      assert.deepEqual(keys(res), ['n3', 'n4', 'n5'])
      assert.equal(res.body.count, 3)
      assert.equal(res.body.total_count, 7)
      assert.ok(res.body.next)
      assert.ok(res.body.prev)
      assert.deepEqual(keys(await db.search(c, 'optword', { sort: 'value.n:desc', limit: 2 })),
        ['n7', 'n6'])
      // Default limit 10, and the sort applies before the page.
      assert.deepEqual(keys(await db.search(c, 'optword', { sort: 'value.n:desc', offset: 5 })),
        ['n2', 'n1'])
      // Past the end: an empty page with the true total.
      const past = await db.search(c, 'optword', { offset: 50 })
      assert.equal(past.body.count, 0)
      assert.equal(past.body.total_count, 7)

      const zero = await db.search(c, 'optword', { limit: 0 })
      assertEnvelope(zero)
      assert.equal(zero.body.count, 0)
      assert.deepEqual(zero.body.results, [])
      assert.equal(zero.body.total_count, 7)

      const bare = await db.search(c, 'value.n:4', { values: false })
      assert.equal(bare.body.count, 1)
      assert.equal(bare.body.results[0].path.key, 'n4')
      assert.equal(bare.body.results[0].value, undefined)

      const hundred = await db.search(c, '*', { limit: 100 })
      assert.equal(hundred.body.count, 7)
    })

    it('without sort: by relevance, highest score first', async () => {
      const c = coll('s_score')
      await putAll(c, {
        short: { text: 'apple' },
        long: { text: 'apple pie with cream and sugar and a few other words besides' },
        none: { text: 'pear' }
      })
      const res = await db.search(c, 'value.text:apple')
      assert.deepEqual(keys(res), ['short', 'long'])
      const [a, b] = res.body.results.map(r => r.score)
      assert.ok(a > b, 'scores ' + a + ', ' + b)
    })

    it('a malformed query is 400 search_query_malformed', async () => {
      const c = coll('s_bad')
      await db.put(c, 'k', { v: 'x' })
      for (const q of ['value.v:(x', 'x AND', '"x', 'value.n:[1 TO 5']) {
        const err = await expectStatus(db.search(c, q), 400)
        assert.equal(err.body.code, 'search_query_malformed', q + ': ' + JSON.stringify(err.body))
        assert.equal(typeof err.body.message, 'string')
      }
      const viaBuilder = await expectStatus(db.newSearchBuilder().collection(c).query('x AND'), 400)
      assert.equal(viaBuilder.body.code, 'search_query_malformed')
      // The server is fine afterwards.
      assert.deepEqual(keys(await db.search(c, 'value.v:x')), ['k'])
    })

    it('limit 101 is 400 search_param_invalid', async () => {
      const c = coll('s_limit')
      await db.put(c, 'k', { v: 'x' })
      const err = await expectStatus(db.search(c, '*', { limit: 101 }), 400)
      assert.equal(err.body.code, 'search_param_invalid')
      const viaBuilder = await expectStatus(db.newSearchBuilder().collection(c).limit(101).query('*'), 400)
      assert.equal(viaBuilder.body.code, 'search_param_invalid')
    })
  })

  describe('newSearchBuilder', () => {
    const people = {
      p1: { name: 'carl', group: 'b', n: 3, t: 'sortword' },
      p2: { name: 'Ada', group: 'a', n: 1, t: 'sortword' },
      p3: { name: 'bob', group: 'b', n: 7, t: 'sortword' },
      p4: { name: 'dora', group: 'a', n: 5, t: 'sortword' },
      p5: { name: 'eve', t: 'sortword' } // no group, no n
    }

    it('collection, limit, offset, sort(field, order)', async () => {
      const c = coll('b_sort')
      await putAll(c, people)
      const q = () => db.newSearchBuilder().collection(c)
      // sort() prefixes "value." (reference §5.10); missing fields sort last.
      assert.deepEqual(keys(await q().sort('n', 'asc').query('sortword')),
        ['p2', 'p1', 'p4', 'p3', 'p5'])
      assert.deepEqual(keys(await q().sort('n', 'desc').query('sortword')),
        ['p3', 'p4', 'p1', 'p2', 'p5'])
      // Strings sort case-insensitively.
      assert.deepEqual(keys(await q().sort('name', 'asc').query('sortword')),
        ['p2', 'p3', 'p1', 'p4', 'p5'])
      // A @path field is sent as is.
      assert.deepEqual(keys(await q().sort('@path.key', 'desc').query('sortword')),
        ['p5', 'p4', 'p3', 'p2', 'p1'])
      const page = await q().sort('n', 'asc').limit(2).offset(1).query('sortword')
      assertEnvelope(page)
      assert.deepEqual(keys(page), ['p1', 'p4'])
      assert.equal(page.body.total_count, 5)
      // offset(0) is sent (offset=0).
      assert.deepEqual(keys(await q().sort('n', 'asc').limit(1).offset(0).query('sortword')), ['p2'])
    })

    it('sortBy: several clauses, with and without a direction', async () => {
      const c = coll('b_sortby')
      await putAll(c, people)
      const q = () => db.newSearchBuilder().collection(c)
      assert.deepEqual(keys(await q().sortBy('value.group:asc', 'value.n:desc').query('sortword')),
        ['p4', 'p2', 'p3', 'p1', 'p5'])
      assert.deepEqual(keys(await q().sortBy('value.group:desc').sortBy('value.n:asc').query('sortword')),
        ['p1', 'p3', 'p2', 'p4', 'p5'])
      // No direction: ascending.
      assert.deepEqual(keys(await q().sortBy('@path.key').query('sortword')),
        ['p1', 'p2', 'p3', 'p4', 'p5'])
      assert.deepEqual(keys(await q().sortBy('value.n').query('sortword')),
        ['p2', 'p1', 'p4', 'p3', 'p5'])
    })

    it('sortRandom(seed): a permutation, the same for one seed, stable across pages', async () => {
      const c = coll('b_random')
      const items = {}
      for (let i = 0; i < 20; i++) items['r' + String(i).padStart(2, '0')] = { i, t: 'rndword' }
      await putAll(c, items)
      const all = Object.keys(items)
      const run = (seed, limit, offset) => {
        let b = db.newSearchBuilder().collection(c).limit(limit || 20)
        if (offset !== undefined) b = b.offset(offset)
        return b.sortRandom(seed).query('rndword')
      }
      const a = keys(await run('seed1'))
      assert.deepEqual(a.slice().sort(), all)
      assert.deepEqual(keys(await run('seed1')), a)
      // Pages with the same seed put together give the whole order.
      const paged = []
      for (let off = 0; off < 20; off += 6) paged.push(...keys(await run('seed1', 6, off)))
      assert.deepEqual(paged, a)
      // Another seed, another order (20! orders: a collision means a broken hash).
      const b = keys(await run('seed2'))
      assert.deepEqual(b.slice().sort(), all)
      assert.notDeepEqual(b, a)
      // A numeric seed works as well.
      assert.deepEqual(keys(await run(42)), keys(await run(42)))
      // Unseeded: still every item once.
      const u = await db.newSearchBuilder().collection(c).limit(20).sortRandom().query('rndword')
      assert.deepEqual(keys(u).sort(), all)
      assert.equal(u.body.total_count, 20)
    })

    it('withFields / withoutFields filter the values, not the paths', async () => {
      const c = coll('b_fields')
      await putAll(c, {
        s: { name: 'Steve Kaliski', email: 's@x', location: 'New York', profile: { a: 1, b: 2 } }
      })
      const w = await db.newSearchBuilder().collection(c).withFields('value.name')
        .query('value.name:"Steve Kaliski"')
      assert.deepEqual(w.body.results[0].value, { name: 'Steve Kaliski' })
      assert.equal(w.body.results[0].path.key, 's')
      assert.equal(w.body.results[0].path.kind, 'item')
      const w2 = await db.newSearchBuilder().collection(c).withFields('value.name', 'value.profile.b')
        .query('steve')
      assert.deepEqual(w2.body.results[0].value, { name: 'Steve Kaliski', profile: { b: 2 } })
      const wo = await db.newSearchBuilder().collection(c)
        .withoutFields('value.email', 'value.location', 'value.profile')
        .query('value.name:"Steve Kaliski"')
      assert.deepEqual(wo.body.results[0].value, { name: 'Steve Kaliski' })
      // db.search passes the same parameters.
      const viaSearch = await db.search(c, 'steve', { with_fields: 'value.location' })
      assert.deepEqual(viaSearch.body.results[0].value, { location: 'New York' })
    })

    it('paging with res.links.next.get() and prev, keeping the sort', async () => {
      const c = coll('b_paging')
      const items = {}
      for (let n = 1; n <= 7; n++) items['k' + n] = { n: 8 - n, t: 'pageword' }
      await putAll(c, items)
      let res = await db.newSearchBuilder().collection(c).limit(3).sortBy('value.n:asc')
        .query('pageword')
      const pages = []
      const firstNext = res.links && res.links.next
      for (;;) {
        assertEnvelope(res)
        assert.equal(res.body.total_count, 7)
        pages.push(res.body.results.map(r => r.value.n))
        if (pages.length > 1) {
          assert.ok(res.links.prev, 'no Link rel="prev" on page ' + pages.length)
          assert.equal(res.body.prev, res.links.prev.url)
        }
        if (!res.links || !res.links.next) {
          assert.equal(res.body.next, undefined)
          break
        }
        assert.ok(res.links.next.url.startsWith('/v0/' + c + '?'), res.links.next.url)
        assert.equal(res.body.next, res.links.next.url)
        res = await res.links.next.get()
        assert.ok(pages.length < 10, 'paging does not end')
      }
      assert.deepEqual(pages, [[1, 2, 3], [4, 5, 6], [7]])
      assert.ok(firstNext)
      // Back from the last page.
      const back = await res.links.prev.get()
      assert.deepEqual(back.body.results.map(r => r.value.n), [4, 5, 6])
    })
  })

  describe('kinds: items, events, relationships', () => {
    const TS = 1412787145997

    // Two items, three events, one relation; "steve" is in one item, two
    // events and the relation.
    async function seedKinds (c) {
      await putAll(c, { steve: { name: 'steve' }, bob: { name: 'bob' } })
      const ev = await db.newEventBuilder().from(c, 'steve').type('activities').time(TS)
        .data({ activity: 'followed', user: 'steve' }).create()
      await db.newEventBuilder().from(c, 'steve').type('other').time(TS + 1)
        .data({ user: 'steve' }).create()
      await db.newEventBuilder().from(c, 'bob').type('activities').time(TS + 2)
        .data({ activity: 'liked', user: 'bob' }).create()
      const rel = await db.newGraphBuilder().create().data({ note: 'steve likes bob' })
        .from(c, 'steve').related('likes').to(c, 'bob')
      return { ev, relRef: rel.headers.etag.replace(/"/g, '') }
    }

    function kindsOf (res) {
      return res.body.results.map(r => r.path.kind).sort()
    }

    it('items only unless the query names @path.kind', async () => {
      const c = coll('k_default')
      await seedKinds(c)
      const res = await db.newSearchBuilder().collection(c).query('steve')
      assert.deepEqual(kindsOf(res), ['item'])
      assert.deepEqual(keys(res), ['steve'])
      assert.equal((await db.search(c, '*')).body.total_count, 2)
    })

    it("kinds('event'): events with type, timestamp, ordinal, ordinal_str", async () => {
      const c = coll('k_event')
      const { ev } = await seedKinds(c)
      const all = await db.newSearchBuilder().collection(c).kinds('event').query('steve')
      assertEnvelope(all)
      assert.deepEqual(kindsOf(all), ['event', 'event'])

      const res = await db.newSearchBuilder().collection(c).kinds('event')
        .query('@path.type:activities AND steve')
      assert.equal(res.body.total_count, 1)
      const r = res.body.results[0]
      assert.equal(r.path.kind, 'event')
      assert.equal(r.path.collection, c)
      assert.equal(r.path.key, 'steve')
      assert.equal(r.path.type, 'activities')
      assert.equal(r.path.timestamp, TS)
      assert.match(r.path.ordinal_str, /^[0-9a-f]{16}$/)
      assert.equal(BigInt('0x' + r.path.ordinal_str).toString(), ev.path.ordinal_str)
      // The decimal ordinal, as a JSON number (rounded like any JS number).
      assert.equal(r.path.ordinal, Number(ev.path.ordinal_str))
      assert.equal(r.path.ref, ev.path.ref)
      assert.equal(typeof r.path.reftime, 'number')
      assert.equal(r.reftime, r.path.reftime)
      assert.deepEqual(r.value, { activity: 'followed', user: 'steve' })
      assert.equal(typeof r.score, 'number')

      // The metadata fields of events.
      const byTs = await db.newSearchBuilder().collection(c).kinds('event')
        .query('@path.timestamp:[' + (TS + 1) + ' TO *]')
      assert.deepEqual(byTs.body.results.map(x => x.path.type + '/' + x.path.key).sort(),
        ['activities/bob', 'other/steve'])
      const byKey = await db.newSearchBuilder().collection(c).kinds('event').query('@path.key:bob')
      assert.deepEqual(byKey.body.results.map(x => x.value), [{ activity: 'liked', user: 'bob' }])

      // The builder writes @path.kind:(event) AND (q); the same by hand.
      const raw = await db.search(c, '@path.kind:event AND steve')
      assert.equal(raw.body.total_count, 2)

      // A removed event leaves the results at once.
      await db.newEventBuilder().from(c, 'steve').type('activities').time(TS)
        .ordinal(ev.path.ordinal_str).remove()
      const after = await db.newSearchBuilder().collection(c).kinds('event')
        .query('@path.type:activities AND steve')
      assert.equal(after.body.total_count, 0)
    })

    it("kinds('relationship'): relation, source, destination and the properties", async () => {
      const c = coll('k_rel')
      const { relRef } = await seedKinds(c)
      const res = await db.newSearchBuilder().collection(c).kinds('relationship').query('steve')
      assertEnvelope(res)
      assert.equal(res.body.total_count, 1)
      const r = res.body.results[0]
      assert.equal(r.path.kind, 'relationship')
      assert.equal(r.path.relation, 'likes')
      assert.equal(r.path.source.collection, c)
      assert.equal(r.path.source.key, 'steve')
      assert.equal(r.path.destination.collection, c)
      assert.equal(r.path.destination.key, 'bob')
      assert.equal(r.path.ref, relRef)
      assert.equal(typeof r.path.reftime, 'number')
      assert.deepEqual(r.value, { note: 'steve likes bob' })

      for (const q of ['@path.relation:likes', '@path.source.key:steve',
        '@path.destination.key:`bob`', '@path.destination.collection:`' + c + '`']) {
        const x = await db.newSearchBuilder().collection(c).kinds('relationship').query(q)
        assert.equal(x.body.total_count, 1, q)
      }
      assert.equal((await db.newSearchBuilder().collection(c).kinds('relationship')
        .query('@path.relation:hates')).body.total_count, 0)

      // Removing the relation takes it out at once.
      await db.newGraphBuilder().remove().from(c, 'steve').related('likes').to(c, 'bob')
      assert.equal((await db.newSearchBuilder().collection(c).kinds('relationship')
        .query('steve')).body.total_count, 0)
    })

    it("kinds('item', 'event', 'relationship') and kinds('item', 'event')", async () => {
      const c = coll('k_all')
      await seedKinds(c)
      const every = await db.newSearchBuilder().collection(c)
        .kinds('item', 'event', 'relationship').query('steve')
      assertEnvelope(every)
      assert.deepEqual(kindsOf(every), ['event', 'event', 'item', 'relationship'])
      assert.equal(every.body.total_count, 4)
      for (const r of every.body.results) {
        if (r.path.kind === 'item') {
          assert.deepEqual(r.value, { name: 'steve' })
        } else if (r.path.kind === 'event') {
          assert.ok(['activities', 'other'].includes(r.path.type))
          assert.equal(typeof r.path.timestamp, 'number')
          assert.match(r.path.ordinal_str, /^[0-9a-f]{16}$/)
        } else {
          assert.equal(r.path.relation, 'likes')
          assert.equal(r.path.source.key, 'steve')
          assert.equal(r.path.destination.key, 'bob')
        }
      }
      const two = await db.newSearchBuilder().collection(c).kinds('item', 'event').query('steve')
      assert.deepEqual(kindsOf(two), ['event', 'event', 'item'])
      // Every kind, everything.
      const star = await db.newSearchBuilder().collection(c)
        .kinds('item', 'event', 'relationship').query('*')
      assert.equal(star.body.total_count, 6)
      // Sorting a mixed result by key, then timestamp (items have none: last).
      const sorted = await db.newSearchBuilder().collection(c).kinds('item', 'event')
        .sortBy('@path.key:asc', '@path.timestamp:asc').query('*')
      assert.deepEqual(sorted.body.results.map(r => r.path.key + ':' + (r.path.type || r.path.kind)),
        ['bob:activities', 'bob:item', 'steve:activities', 'steve:other', 'steve:item'])
    })
  })

  describe('aggregates', () => {
    // price over the matches: 1 2 3 4 10 (count 5, sum 20, mean 4, sum of
    // squares 130, population variance 10); tag: red 3, blue 2, green 1;
    // "other" never matches value.t:aggword.
    const data = {
      a1: { t: 'aggword', price: 1, tag: 'red', when: '2014-03-01T13:05:00Z' },
      a2: { t: 'aggword', price: 2, tag: 'red', when: '2014-03-01T23:30:00Z' },
      a3: { t: 'aggword', price: 3, tag: 'red', when: '2014-03-02T01:00:00Z' },
      a4: { t: 'aggword', price: 4, tag: 'blue', when: '2014-04-10T00:00:00Z' },
      a5: { t: 'aggword', price: 10, tag: 'blue', when: '2015-01-01T00:00:00Z' },
      a6: { t: 'aggword', tag: 'green' },
      other: { t: 'otherword', price: 1000, tag: 'red', when: '2016-06-06T00:00:00Z' }
    }

    function only (res) {
      assertEnvelope(res)
      assert.ok(Array.isArray(res.body.aggregates), JSON.stringify(res.body))
      assert.equal(res.body.aggregates.length, 1)
      return res.body.aggregates[0]
    }

    function buckets (agg) {
      return agg.buckets.map(b => [b.bucket, b.count])
    }

    it('stats (and aggregate("stats", ...)): exact numbers over every match', async () => {
      const c = coll('a_stats')
      await putAll(c, data)
      const a = only(await db.newSearchBuilder().collection(c).stats('value.price')
        .query('value.t:aggword'))
      assert.equal(a.aggregate_kind, 'stats')
      assert.equal(a.field_name, 'value.price')
      assert.equal(a.value_count, 5)
      const s = a.statistics
      assert.deepEqual(Object.keys(s).sort(),
        ['max', 'mean', 'min', 'std_dev', 'sum', 'sum_of_squares', 'variance'])
      assert.equal(s.min, 1)
      assert.equal(s.max, 10)
      assert.equal(s.sum, 20)
      assertNear(s.mean, 4, 'mean')
      assertNear(s.sum_of_squares, 130, 'sum_of_squares')
      assertNear(s.variance, 10, 'variance')
      assertNear(s.std_dev, Math.sqrt(10), 'std_dev')

      // The generic form, a page of one: the aggregate still covers all matches.
      const res = await db.newSearchBuilder().collection(c).limit(1)
        .aggregate('stats', 'value.price').query('value.t:aggword')
      assert.equal(res.body.count, 1)
      assert.equal(res.body.total_count, 6)
      assert.deepEqual(res.body.aggregates, [a])
      // db.search with an aggregate option: the same request.
      const viaSearch = await db.search(c, 'value.t:aggword', { aggregate: 'value.price:stats', limit: 0 })
      assert.deepEqual(viaSearch.body.aggregates, [a])
    })

    it('range: a string and a BucketBuilder give the same buckets, min inclusive, max exclusive', async () => {
      const c = coll('a_range')
      await putAll(c, data)
      const s = only(await db.newSearchBuilder().collection(c)
        .range('value.price', '*~2:2~4:4~*').query('value.t:aggword'))
      assert.equal(s.aggregate_kind, 'range')
      assert.equal(s.field_name, 'value.price')
      assert.equal(s.value_count, 5)
      assert.deepEqual(s.buckets, [{ max: 2, count: 1 }, { min: 2, max: 4, count: 2 }, { min: 4, count: 2 }])
      const f = only(await db.newSearchBuilder().collection(c)
        .range('value.price', b => b.before(2).between(2, 4).after(4)).query('value.t:aggword'))
      assert.deepEqual(f, s)
      // A bucket nothing falls in is still listed, with count 0.
      const z = only(await db.newSearchBuilder().collection(c)
        .range('value.price', '5~9:10~11').query('value.t:aggword'))
      assert.deepEqual(z.buckets, [{ min: 5, max: 9, count: 0 }, { min: 10, max: 11, count: 1 }])
    })

    it('top_values: most frequent first; offset and limit through aggregate()', async () => {
      const c = coll('a_top')
      await putAll(c, data)
      const a = only(await db.newSearchBuilder().collection(c).top_values('value.tag')
        .query('value.t:aggword'))
      assert.equal(a.aggregate_kind, 'top_values')
      assert.equal(a.field_name, 'value.tag')
      assert.equal(a.value_count, 6)
      assert.equal(a.offset, 0)
      assert.equal(a.limit, 10)
      assert.deepEqual(a.entries, [
        { value: 'red', count: 3 }, { value: 'blue', count: 2 }, { value: 'green', count: 1 }])
      // top_values(path, offset, limit) drops offset and limit (reference
      // §5.6); aggregate() with the arguments sends them.
      const p = only(await db.newSearchBuilder().collection(c)
        .aggregate('top_values', 'value.tag', ['offset', 1, 'limit', 1]).query('value.t:aggword'))
      assert.equal(p.offset, 1)
      assert.equal(p.limit, 1)
      assert.deepEqual(p.entries, [{ value: 'blue', count: 2 }])
      // What top_values(path, 1, 1) sends, "value.tag:top_values:offset", is
      // accepted with the defaults.
      const q = only(await db.newSearchBuilder().collection(c).top_values('value.tag', 1, 1)
        .query('value.t:aggword'))
      assert.deepEqual(q, a)
      // Numbers are counted too.
      const n = only(await db.newSearchBuilder().collection(c).top_values('value.price')
        .query('value.t:aggword'))
      assert.equal(n.value_count, 5)
      assert.deepEqual(n.entries.map(e => e.count), [1, 1, 1, 1, 1])
      assert.deepEqual(n.entries.map(e => Number(e.value)).sort((x, y) => x - y), [1, 2, 3, 4, 10])
    })

    it('time_series: every interval, with and without a time zone', async () => {
      const c = coll('a_time')
      await putAll(c, data)
      const ts = async (interval, zone) => {
        const a = only(await db.newSearchBuilder().collection(c)
          .time_series('value.when', interval, zone).query('value.t:aggword'))
        assert.equal(a.aggregate_kind, 'time_series')
        assert.equal(a.field_name, 'value.when')
        assert.equal(a.value_count, 5)
        assert.equal(a.interval, interval)
        if (zone !== undefined) assert.equal(a.time_zone, zone)
        return buckets(a)
      }
      assert.deepEqual(await ts('year'), [['2014', 4], ['2015', 1]])
      assert.deepEqual(await ts('quarter'), [['2014-Q1', 3], ['2014-Q2', 1], ['2015-Q1', 1]])
      assert.deepEqual(await ts('month'), [['2014-03', 3], ['2014-04', 1], ['2015-01', 1]])
      // ISO weeks: 2014-03-01 (a Saturday) and 03-02 are in 2014-W09;
      // 2015-01-01 is in 2015-W01.
      assert.deepEqual(await ts('week'), [['2014-W09', 3], ['2014-W15', 1], ['2015-W01', 1]])
      assert.deepEqual(await ts('day'),
        [['2014-03-01', 2], ['2014-03-02', 1], ['2014-04-10', 1], ['2015-01-01', 1]])
      assert.deepEqual(await ts('hour'), [['2014-03-01T13', 1], ['2014-03-01T23', 1],
        ['2014-03-02T01', 1], ['2014-04-10T00', 1], ['2015-01-01T00', 1]])
      // +0900: 23:30Z is the next morning; -0500: 01:00Z is the evening before,
      // and 2015-01-01T00:00Z is 2014-12-31 (ISO week 2015-W01 still).
      assert.deepEqual(await ts('day', '+0900'),
        [['2014-03-01', 1], ['2014-03-02', 2], ['2014-04-10', 1], ['2015-01-01', 1]])
      assert.deepEqual(await ts('day', '-0500'),
        [['2014-03-01', 3], ['2014-04-09', 1], ['2014-12-31', 1]])
      assert.deepEqual(await ts('year', '-0500'), [['2014', 5]])
      assert.deepEqual(await ts('week', '-0500'), [['2014-W09', 3], ['2014-W15', 1], ['2015-W01', 1]])
      assert.deepEqual(await ts('hour', '+0900'), [['2014-03-01T22', 1], ['2014-03-02T08', 1],
        ['2014-03-02T10', 1], ['2014-04-10T09', 1], ['2015-01-01T09', 1]])
    })

    it('several aggregates in one request, in the order asked', async () => {
      const c = coll('a_many')
      await putAll(c, data)
      const res = await db.newSearchBuilder().collection(c).limit(2)
        .stats('value.price')
        .top_values('value.tag')
        .range('value.price', '*~5:5~*')
        .time_series('value.when', 'year')
        .query('value.t:aggword')
      assertEnvelope(res)
      assert.equal(res.body.count, 2)
      assert.deepEqual(res.body.aggregates.map(a => a.aggregate_kind + ' ' + a.field_name),
        ['stats value.price', 'top_values value.tag', 'range value.price', 'time_series value.when'])
      assert.equal(res.body.aggregates[0].statistics.sum, 20)
      assert.deepEqual(res.body.aggregates[2].buckets.map(b => b.count), [4, 1])
      // Aggregates over no match at all.
      const none = await db.newSearchBuilder().collection(c).stats('value.price')
        .top_values('value.tag').query('value.t:nothingmatches')
      assert.equal(none.body.total_count, 0)
      assert.deepEqual(none.body.aggregates.map(a => a.value_count), [0, 0])
      assert.deepEqual(none.body.aggregates[1].entries, [])
    })
  })

  describe('geo', () => {
    // Points on the equator east and west of (0, 0), with every spelling of
    // a point; g5 has no location.
    const places = {
      g0: { kind: 'shop', loc: { lat: 0, lon: 0.005 } },
      g1: { kind: 'shop', loc: { latitude: 0, longitude: -0.015 } },
      g2: { kind: 'cafe', loc: { lat: 0, lng: 0.025 } },
      g3: { kind: 'shop', loc: { lat: 0, long: 0.1 } },
      g4: { kind: 'shop', loc: { lat: 0, lon: 1 } },
      g5: { kind: 'shop' }
    }
    const LON = { g0: 0.005, g1: 0.015, g2: 0.025, g3: 0.1, g4: 1 }

    function assertDistances (res, unitMetres) {
      for (const r of res.body.results) {
        assertNear(r.distance, metresAlongEquator(LON[r.path.key]) / unitMetres,
          'distance of ' + r.path.key)
      }
    }

    it('the client\'s own "Search aggregates" request: ten aggregates, a distance of a field with no NEAR of its own', async () => {
      // orchestrate 0.8.2 test/search.test.js asks for this and expects 200;
      // value.hometown is measured from the query's NEAR centre.
      const c = coll('g_ownagg')
      await putAll(c, {
        u1: { name: 'a', username: 'x', tags: ['t'], categories: ['k'], coolness: 1.5,
          radness: 3, location: { lat: 12.3, lon: 56.7 }, hometown: { lat: 12.3, lon: 56.71 }, path: '2014-11-01' },
        u2: { name: 'b', username: 'y', tags: ['t'], categories: ['k'], coolness: 0.5,
          radness: 1, location: { lat: 12.31, lon: 56.7 }, hometown: { lat: 13, lon: 57 }, path: '2014-11-02' }
      })
      const res = await db.newSearchBuilder()
        .collection(c)
        .aggregate('stats', 'value.name')
        .top_values('value.tags')
        .top_values('value.categories', 20, 10)
        .stats('value.username')
        .range('value.coolness', '*~1:1~2:2~*')
        .range('value.radness', function (builder) {
          return builder.before(1).between(1, 2).after(2)
        })
        .distance('value.location', '*~1:1~2:2~*')
        .distance('value.hometown', function (builder) {
          return builder.before(1).between(1, 2).after(2)
        })
        .time_series('path', 'day')
        .time_series('path', 'hour', '+0900')
        .query('value.location:NEAR:{latitude:12.3 longitude:56.7 radius:100km}')
      assert.equal(res.statusCode, 200)
      assert.equal(res.body.total_count, 2)
      const aggs = res.body.aggregates
      assert.equal(aggs.length, 10)
      const home = aggs.filter((a) => a.aggregate_kind === 'distance' && a.field_name === 'value.hometown')[0]
      assert.ok(home, JSON.stringify(aggs))
      // u1's hometown is about 1.1 km from the centre, u2's about 84 km.
      assert.deepEqual(home.buckets.map((b) => b.count), [0, 1, 1])
      assert.equal(home.value_count, 2)
    })

    it('NEAR with a distance sort (db.search); each result has its distance', async () => {
      const c = coll('g_near')
      await putAll(c, places)
      const res = await db.search(c, 'value.loc:NEAR:{lat:0 lon:0 dist:5km}',
        { sort: 'value.loc:distance:asc' })
      assertEnvelope(res)
      assert.deepEqual(keys(res), ['g0', 'g1', 'g2'])
      assertDistances(res, 1000)
      // The distance is in the unit of the NEAR clause.
      const m = await db.search(c, 'value.loc:NEAR:{lat:0 lon:0 dist:2000m}',
        { sort: 'value.loc:distance:asc' })
      assert.deepEqual(keys(m), ['g0', 'g1'])
      assertDistances(m, 1)
      const mi = await db.search(c, 'value.loc:NEAR:{lat:0 lon:0 dist:10mi}',
        { sort: 'value.loc:distance:asc' })
      assert.deepEqual(keys(mi), ['g0', 'g1', 'g2', 'g3'])
      assertDistances(mi, 1609.344)
      // Without a distance sort the distance is still there.
      const plain = await db.search(c, 'value.loc:NEAR:{lat:0 lon:0 dist:5km}', { sort: '@path.key' })
      assert.deepEqual(keys(plain), ['g0', 'g1', 'g2'])
      assertDistances(plain, 1000)
    })

    it('NEAR through the builder: aliases, descending distance, with other clauses', async () => {
      const c = coll('g_builder')
      await putAll(c, places)
      const desc = await db.newSearchBuilder().collection(c).sortBy('value.loc:distance:desc')
        .query('value.loc:NEAR:{latitude:0 longitude:0 radius:20km}')
      assert.deepEqual(keys(desc), ['g3', 'g2', 'g1', 'g0'])
      assertDistances(desc, 1000)
      const shops = await db.newSearchBuilder().collection(c).sortBy('value.loc:distance:asc')
        .query('value.kind:shop AND value.loc:NEAR:{lat:0 lng:0 distance:200km}')
      assert.deepEqual(keys(shops), ['g0', 'g1', 'g3', 'g4'])
      assertDistances(shops, 1000)
      // Paged: the second page goes on where the first stopped.
      const p2 = await db.newSearchBuilder().collection(c).sortBy('value.loc:distance:asc')
        .limit(2).offset(2).query('value.loc:NEAR:{lat:0 lon:0 dist:200km}')
      assert.deepEqual(keys(p2), ['g2', 'g3'])
      assert.equal(p2.body.total_count, 5)
    })

    it('IN a box: no distance', async () => {
      const c = coll('g_in')
      await putAll(c, places)
      const res = await db.newSearchBuilder().collection(c).sortBy('@path.key')
        .query('value.loc:IN:{north:1 south:-1 east:0.05 west:-0.05}')
      assert.deepEqual(keys(res), ['g0', 'g1', 'g2'])
      for (const r of res.body.results) assert.equal(r.distance, undefined)
      const short = await db.search(c, 'value.loc:IN:{n:1 s:-1 e:0.02 w:0}', { sort: '@path.key' })
      assert.deepEqual(keys(short), ['g0'])
    })

    it('distance aggregate: buckets in the unit of the NEAR clause', async () => {
      const c = coll('g_agg')
      await putAll(c, places)
      const q = 'value.loc:NEAR:{lat:0 lon:0 dist:20km}'
      const res = await db.newSearchBuilder().collection(c).distance('value.loc', '*~1:1~2:2~*').query(q)
      assertEnvelope(res)
      assert.equal(res.body.aggregates.length, 1)
      const a = res.body.aggregates[0]
      assert.equal(a.aggregate_kind, 'distance')
      assert.equal(a.field_name, 'value.loc')
      assert.equal(a.value_count, 4)
      assert.deepEqual(a.buckets, [{ max: 1, count: 1 }, { min: 1, max: 2, count: 1 }, { min: 2, count: 2 }])
      const f = await db.newSearchBuilder().collection(c)
        .distance('value.loc', b => b.before(1).between(1, 2).after(2)).query(q)
      assert.deepEqual(f.body.aggregates, [a])
      // In metres.
      const m = await db.newSearchBuilder().collection(c)
        .distance('value.loc', '0~1000:1000~3000').query('value.loc:NEAR:{lat:0 lon:0 dist:20000m}')
      assert.deepEqual(m.body.aggregates[0].buckets.map(b => b.count), [1, 2])
    })
  })

  describe('across collections', () => {
    async function seedCross () {
      const ca = coll('x_a')
      const cb = coll('x_b')
      const cc = coll('x_c')
      await putAll(ca, { x1: { w: 'crossword', n: 1 }, x2: { w: 'crossword', n: 2 } })
      await putAll(cb, { y1: { w: 'crossword', n: 3 } })
      await putAll(cc, { z1: { w: 'crossword', n: 4 } })
      return [ca, cb, cc]
    }

    function where (res) {
      return res.body.results.map(r => r.path.collection + '/' + r.path.key)
    }

    it('db.searchAcrossCollections with @path.collection:(`a` `b`)', async () => {
      const [ca, cb, cc] = await seedCross()
      const res = await db.searchAcrossCollections(
        '@path.collection:(`' + ca + '` `' + cb + '`) AND crossword', { sort: 'value.n:asc' })
      assertEnvelope(res)
      assert.deepEqual(where(res), [ca + '/x1', ca + '/x2', cb + '/y1'])
      assert.equal(res.body.total_count, 3)
      const three = await db.searchAcrossCollections(
        '@path.collection:(`' + ca + '` `' + cb + '` `' + cc + '`) AND value.w:crossword',
        { sort: 'value.n:desc', limit: 2, offset: 1 })
      assert.deepEqual(where(three), [cb + '/y1', ca + '/x2'])
      assert.equal(three.body.total_count, 4)
    })

    it('the builder without a collection; paging; kinds; aggregates', async () => {
      const [ca, cb, cc] = await seedCross()
      const only = await db.newSearchBuilder().limit(10).query('@path.collection:`' + cb + '`')
      assert.deepEqual(where(only), [cb + '/y1'])
      const q = '@path.collection:(`' + ca + '` `' + cb + '` `' + cc + '`) AND crossword'
      let res = await db.newSearchBuilder().limit(3).sortBy('value.n:asc').query(q)
      const pages = [where(res)]
      assert.ok(res.links && res.links.next, 'no next link')
      assert.ok(res.links.next.url.startsWith('/v0?'), res.links.next.url)
      assert.equal(res.body.next, res.links.next.url)
      res = await res.links.next.get()
      pages.push(where(res))
      assert.ok(!(res.links && res.links.next))
      assert.deepEqual(pages, [[ca + '/x1', ca + '/x2', cb + '/y1'], [cc + '/z1']])

      await db.newEventBuilder().from(cb, 'y1').type('said').time(5000).data({ w: 'crossword' }).create()
      const ev = await db.newSearchBuilder().kinds('event').query(q)
      assert.deepEqual(ev.body.results.map(r => r.path.kind + ' ' + r.path.collection + '/' + r.path.key),
        ['event ' + cb + '/y1'])

      const agg = await db.newSearchBuilder().stats('value.n')
        .query('@path.collection:(`' + ca + '` `' + cb + '`) AND crossword')
      assert.equal(agg.body.aggregates[0].value_count, 3)
      assert.equal(agg.body.aggregates[0].statistics.sum, 6)
    })
  })
})
