/**
 * A seeded, realistic stream of Meetup-style RSVP messages: the format and quirks of
 * `docs/contract.md` (resends, truncated-mtime resends, flips, moves to another event, stale versions, invalid
 * messages, optional keys, awkward text), with invented names so no real person's data is used.
 *
 * Event, group, venue and member details are a pure function of (entity, mtime): each entity has
 * its own "epochs" (a few days long) and draws its details for an epoch from a hash of its seed and
 * the epoch number. Two messages that name the same entity at the same mtime therefore carry the
 * same details, so "the details of the message with the greatest mtime" (rule 5 of docs/contract.md) is always
 * well defined, while details still change over time (renames, venue moves).
 */
import { Buffer } from 'node:buffer'
import { createRandom, type Random } from './random.ts'

/** How to shape the stream; every share is a fraction of all messages. */
export interface GeneratorOptions {
  /** how many messages to yield */
  count: number
  /** the same seed (and options) always yields the same stream */
  seed: number
  /** distinct events, Zipf-popular (default 10,000) */
  events?: number
  /** distinct groups; each event belongs to one (default 2,000) */
  groups?: number
  /** how many countries, taken from a fixed list of real two-letter codes (default 20) */
  countries?: number
  /** distinct group topics (default 200) */
  topics?: number
  /** distinct members (default 50,000) */
  members?: number
  /** epoch ms where the stream's clock starts (default 2026-01-01T00:00:00Z) */
  startMtime?: number
  /** the clock advances evenly over this many days (default 7) */
  spanDays?: number
  /** messages that break rule 6 of docs/contract.md (default 0.01) */
  invalidShare?: number
  /** byte-identical resends of an earlier message (default 0.05) */
  resendShare?: number
  /** resends of an RSVP's current version with its mtime truncated to whole seconds (default 0.03) */
  truncatedResendShare?: number
  /** newer versions with the response flipped yes <-> no (default 0.05) */
  flipShare?: number
  /** newer versions with another number of guests (default 0.03) */
  updateShare?: number
  /** newer versions that name another event: the RSVP moves, the first event loses it (default 0.01) */
  moveShare?: number
  /** versions older than the RSVP's current one, arriving after it (default 0.02) */
  staleShare?: number
}

/** What a message is, from the producer's point of view; consumers must not rely on it. */
export type MessageKind = 'new' | 'resend' | 'truncated-resend' | 'flip' | 'update' | 'move' | 'stale' | 'invalid'

/** One Kafka message to send: key, value (one JSON line, or garbage) and how it was made. */
export interface GeneratedMessage {
  /** String(rsvp_id) for valid messages, so that every version of an RSVP shares a partition */
  key: string | undefined
  value: string
  kind: MessageKind
}

const DAY_MS = 86_400_000
/**
 * The most events, groups, topics and members a stream may have: the bounds keep the id ranges
 * that entities draw their unique ids from far from full.
 */
export const GENERATOR_LIMITS = { events: 10_000_000, groups: 1_000_000, topics: 100_000, members: 10_000_000 } as const
const DEFAULT_START_MTIME = Date.UTC(2026, 0, 1)
const EVENT_ZIPF_S = 1
const GROUP_ZIPF_S = 0.8
const MEMBER_ZIPF_S = 0.6
const COUNTRY_ZIPF_S = 1.1
const TOPIC_ZIPF_S = 0.9
const NAME_CAP = 80
// upstream caps names at 80, but venue names that are URLs run longer in real captures
const URL_NAME_CAP = 128
// RSVPs that can still get a new version; older ones are left alone, as real RSVPs mostly are
const POOL_SIZE = 32_768

interface CountrySpec {
  code: string
  lat: number
  lon: number
  states?: readonly string[]
}

// Ordered roughly by how often they appear in real captures, so that the first n make a
// plausible mix and the Zipf weighting over them gives the US the biggest share.
const COUNTRIES: readonly CountrySpec[] = [
  { code: 'us', lat: 39.5, lon: -98.35, states: ['CA', 'NY', 'TX', 'WA', 'MA', 'IL', 'FL', 'CO', 'GA', 'OR', 'NC'] },
  { code: 'gb', lat: 53.5, lon: -1.9 },
  { code: 'de', lat: 51.1, lon: 10.4 },
  { code: 'au', lat: -28, lon: 140 },
  { code: 'es', lat: 40.2, lon: -3.7 },
  { code: 'fr', lat: 46.6, lon: 2.4 },
  { code: 'ca', lat: 50, lon: -96, states: ['ON', 'BC', 'QC', 'AB', 'NS'] },
  { code: 'nl', lat: 52.2, lon: 5.3 },
  { code: 'il', lat: 31.5, lon: 34.9 },
  { code: 'jp', lat: 36.2, lon: 138.3 },
  { code: 'ae', lat: 24.4, lon: 54.4 },
  { code: 'in', lat: 21, lon: 78 },
  { code: 'hk', lat: 22.3, lon: 114.2 },
  { code: 'ie', lat: 53.3, lon: -7.7 },
  { code: 'sg', lat: 1.35, lon: 103.82 },
  { code: 'kr', lat: 36.5, lon: 127.9 },
  { code: 'ch', lat: 46.8, lon: 8.2 },
  { code: 'th', lat: 15.1, lon: 101 },
  { code: 'dk', lat: 56, lon: 10 },
  { code: 'be', lat: 50.6, lon: 4.6 },
  { code: 'tw', lat: 23.7, lon: 121 },
  { code: 'se', lat: 62, lon: 15 },
  { code: 'at', lat: 47.5, lon: 14.5 },
  { code: 'pl', lat: 52, lon: 19.4 },
  { code: 'it', lat: 42.8, lon: 12.5 },
  { code: 'br', lat: -14.2, lon: -51.9 },
  { code: 'mx', lat: 23.6, lon: -102.5 },
  { code: 'nz', lat: -41, lon: 174 },
  { code: 'za', lat: -29, lon: 24 },
  { code: 'pt', lat: 39.6, lon: -8 },
  { code: 'no', lat: 62, lon: 10 },
  { code: 'fi', lat: 64, lon: 26 },
  { code: 'cz', lat: 49.8, lon: 15.5 },
  { code: 'eg', lat: 26.8, lon: 30.8 },
  { code: 'ar', lat: -34, lon: -64 },
  { code: 'tr', lat: 39, lon: 35 },
  { code: 'my', lat: 4.2, lon: 101.9 },
  { code: 'ph', lat: 12.9, lon: 121.8 },
  { code: 'ng', lat: 9.1, lon: 8.7 },
  { code: 'ke', lat: 0, lon: 38 },
]

const TOPIC_BASE = [
  'Software Development',
  'Web Development',
  'JavaScript',
  'Python',
  'Data Science',
  'Machine Learning',
  'Cloud Computing',
  'DevOps',
  'Cybersecurity',
  'Open Source',
  'Startups',
  'Entrepreneurship',
  'Product Management',
  'UX Design',
  'Photography',
  'Hiking',
  'Outdoors',
  'Running',
  'Cycling',
  'Rock Climbing',
  'Yoga',
  'Meditation',
  'Fitness',
  'Board Games',
  'Chess',
  'Video Games',
  'Book Club',
  'Creative Writing',
  'Film',
  'Live Music',
  'Jazz',
  'Salsa',
  'Dance',
  'Language Exchange',
  'Spanish Language',
  'Japanese Language',
  'Travel',
  'Cooking',
  'Wine Tasting',
  'Craft Beer',
  'Coffee',
  'Vegan',
  'Volunteering',
  'Parenting',
  'Dog Lovers',
  'Investing',
  'Real Estate',
  'Blockchain',
  'Public Speaking',
  'Professional Networking',
  'Social',
  'New In Town',
  'Singles',
  'Women in Tech',
  'LGBTQ+',
  'Art & Culture',
  'Painting',
  'Theatre',
  'Improv',
  'Stand-up Comedy',
  'Mindfulness',
  'Science',
  'Astronomy',
  'History',
  'Philosophy',
  'Gardening',
  'Sustainability',
  'Kayaking',
  'Skiing',
  'Tennis',
  'Football',
  'Basketball',
  'Sailing',
  'Crafts & DIY',
]
const TOPIC_SUFFIXES = [
  '',
  ' for Beginners',
  ' Professionals',
  ' Enthusiasts',
  ' Study Group',
  ' Workshops',
  ' Socials',
  ' & Friends',
  ' Fans',
]

const EMOJI = ['🎉', '🍻', '🏃', '🚴', '🧘', '🎲', '📚', '💻', '🌍', '🎸', '☕', '🏃‍♀️', '🇯🇵', '✨', '🥾']
const SYLLABLES = [
  'an',
  'bel',
  'car',
  'da',
  'el',
  'fi',
  'gor',
  'ha',
  'is',
  'jo',
  'ka',
  'li',
  'mar',
  'no',
  'ol',
  'pe',
  'ra',
  'sa',
  'ti',
  'ul',
  'va',
  'wen',
  'yo',
  'zu',
  'ber',
  'ton',
  'lin',
  'mo',
  'ri',
  'sen',
  'dra',
  'vik',
  'lo',
  'na',
  'lé',
  'mü',
  'ño',
  'ør',
]
const CJK_SURNAMES = ['王', '李', '张', '陈', '刘', '林', '佐藤', '鈴木', '高橋', '김', '박', '이']
const CJK_GIVEN = ['思远', '雨桐', '浩然', '嘉怡', '花子', '太郎', '美咲', '민준', '서연', '지우']
const ARABIC_NAMES = ['سارة', 'أحمد', 'ليلى', 'عمر', 'يوسف', 'مريم']
const HEBREW_NAMES = ['נועה', 'איתי', 'מאיה', 'יונתן', 'תמר']

const EVENT_ADJECTIVES = [
  'Weekly',
  'Monthly',
  'Friday',
  'Sunday Morning',
  'Beginner',
  'Advanced',
  'Casual',
  'Open',
  'After-work',
  'Late-night',
  'Summer',
  'Winter',
  'First',
  'Free',
  'Members-only',
]
const EVENT_NOUNS = [
  'Meetup',
  'Night',
  'Workshop',
  'Hangout',
  'Walk',
  'Session',
  'Social',
  'Lunch & Learn',
  'Hack Night',
  'Jam',
  'Talk',
  'Brunch',
  'Picnic',
  'Mixer',
  'Tournament',
  'Class',
  'Day Trip',
  'Q&A',
  'Drinks',
]
const EVENT_SUBTITLES = [
  'An Introduction',
  'Part 2',
  'Bring a Friend',
  'Open Q&A',
  'Ask Me Anything',
  'Lightning Talks',
  'Show & Tell',
  'Tips & Tricks',
  'Season Opener',
  'Year in Review',
]
const CJK_EVENTS = [
  '週末ハイキング',
  '読書会',
  '日本語で話そう',
  '技術勉強会',
  '咖啡聊天会',
  '周末徒步',
  '中文角',
  '한국어 교환',
  '보드게임 모임',
  '파이썬 스터디',
]
const ARABIC_EVENTS = ['لقاء رواد الأعمال', 'أمسية القراءة', 'ملتقى المبرمجين', 'نادي الكتاب']
const HEBREW_EVENTS = ['מפגש מפתחים', 'ערב משחקי קופסה', 'טיול שבת', 'מועדון קריאה']
const GROUP_KINDS = [
  'Meetup',
  'Club',
  'Group',
  'Society',
  'Community',
  'Collective',
  'Network',
  'Circle',
  'Enthusiasts',
  'Social Club',
]
const CJK_GROUPS = ['技术交流会', '読書クラブ', '登山の会', '언어교환 모임', '摄影爱好者']
const ARABIC_GROUPS = ['نادي المبرمجين', 'مجتمع رواد الأعمال']
const HEBREW_GROUPS = ['קהילת המפתחים', 'מועדון הטיולים']
const VENUE_BASES = [
  'The Copper Kettle',
  'Community Hall',
  'Public Library, Room 2',
  'Innovation Hub',
  'Café Lumière',
  'Riverside Park (north entrance)',
  'Coworking Loft',
  'The Old Brewery',
  'Town Square',
  'Studio 5',
  'Union Hall',
  'Harbour Pub',
  'Tech Campus, Building C',
  'Central Station, under the clock',
  "St. Anne's Hall",
  'The "Blue" Room',
]
const CJK_VENUES = ['市民会館 会議室A', '星巴克 二楼', '코워킹 스페이스', '図書館 3階']
const CITY_PREFIXES = ['', '', '', '', 'North ', 'Port ', 'San ', 'Bad ', 'Saint-', 'New ', 'Lake ']
const CITY_ROOTS = [
  'Alder',
  'Brim',
  'Corvel',
  'Dunmar',
  'Elst',
  'Fenwick',
  'Garra',
  'Halden',
  'Ivor',
  'Jarrow',
  'Kessel',
  'Lunde',
  'Morvan',
  'Nerida',
  'Oster',
  'Pelling',
  'Quarry',
  'Rosk',
  'Sével',
  'Tamsin',
  'Ulm',
  'Varro',
  'Wexley',
  'Ystad',
  'Zelen',
  'Brévin',
  'Østvik',
]
const CITY_SUFFIXES = ['', '', 'ton', 'burg', 'ville', 'stad', 'haven', 'ford', 'mouth', 'field', 'polis']

// A rename for a later epoch; the flag says whether it also moves the event by a day.
const EVENT_RENAMES: ReadonlyArray<readonly [(name: string) => string, boolean]> = [
  [(n) => `${n} (moved to Thursday)`, true],
  [(n) => `[RESCHEDULED] ${n}`, true],
  [(n) => `${n} - last spots!`, false],
  [(n) => `CANCELLED: ${n}`, false],
  [(n) => `${n} #2`, false],
  [(n) => `${n} (new venue)`, false],
  [(n) => `${n} 🔥`, false],
]

function resolveOptions(options: GeneratorOptions) {
  const o = {
    count: options.count,
    seed: options.seed,
    events: options.events ?? 10_000,
    groups: options.groups ?? 2_000,
    countries: options.countries ?? 20,
    topics: options.topics ?? 200,
    members: options.members ?? 50_000,
    startMtime: options.startMtime ?? DEFAULT_START_MTIME,
    spanDays: options.spanDays ?? 7,
    invalidShare: options.invalidShare ?? 0.01,
    resendShare: options.resendShare ?? 0.05,
    truncatedResendShare: options.truncatedResendShare ?? 0.03,
    flipShare: options.flipShare ?? 0.05,
    updateShare: options.updateShare ?? 0.03,
    moveShare: options.moveShare ?? 0.01,
    staleShare: options.staleShare ?? 0.02,
  }
  const problems: string[] = []
  if (!Number.isSafeInteger(o.count) || o.count < 0) problems.push(`count must be an integer >= 0, not ${o.count}`)
  if (!Number.isSafeInteger(o.seed)) problems.push(`seed must be a safe integer, not ${o.seed}`)
  for (const [name, max] of Object.entries(GENERATOR_LIMITS) as [keyof typeof GENERATOR_LIMITS, number][]) {
    if (!Number.isSafeInteger(o[name]) || o[name] < 1 || o[name] > max) {
      problems.push(`${name} must be an integer from 1 to ${max}, not ${o[name]}`)
    }
  }
  if (!Number.isSafeInteger(o.countries) || o.countries < 1 || o.countries > COUNTRIES.length) {
    problems.push(`countries must be an integer from 1 to ${COUNTRIES.length}, not ${o.countries}`)
  }
  if (!Number.isSafeInteger(o.startMtime) || o.startMtime < 0) {
    problems.push(`startMtime must be epoch milliseconds >= 0, not ${o.startMtime}`)
  }
  if (!Number.isFinite(o.spanDays) || o.spanDays <= 0) problems.push(`spanDays must be > 0, not ${o.spanDays}`)
  const shares = [
    'invalidShare',
    'resendShare',
    'truncatedResendShare',
    'flipShare',
    'updateShare',
    'moveShare',
    'staleShare',
  ] as const
  let total = 0
  for (const name of shares) {
    const share = o[name]
    if (!(share >= 0 && share <= 1)) problems.push(`${name} must be from 0 to 1, not ${share}`)
    else total += share
  }
  if (total > 1) problems.push(`the shares add up to ${total}, more than 1`)
  if (problems.length > 0) throw new RangeError(`invalid generator options: ${problems.join('; ')}`)
  return o
}

/** A uniform float in [0, 1) from (seed, epoch, salt): the same inputs always give the same value. */
function unit(seed: number, epoch: number, salt: number): number {
  let h = Math.imul(seed ^ Math.imul(salt + 1, 0x9e3779b1), 0x85ebca6b) ^ Math.imul(epoch | 0, 0xc2b2ae35)
  h ^= h >>> 16
  h = Math.imul(h, 0x7feb352d)
  h ^= h >>> 15
  h = Math.imul(h, 0x846ca68b)
  h ^= h >>> 16
  return (h >>> 0) / 0x1_0000_0000
}

/** At most `max` code points, never splitting a surrogate pair. */
function cap(text: string, max: number): string {
  if (text.length <= max) return text
  const points = Array.from(text)
  return points.length <= max ? text : points.slice(0, max).join('')
}

/** JSON text the way the real stream writes it: slashes escaped (`https:\/\/`). */
function json(value: unknown): string {
  return JSON.stringify(value).replaceAll('/', '\\/')
}

/**
 * The same text as one sequential string. Segments are built by concatenation (a rope in V8) and
 * each is reused by many messages; a rope part makes every one of those messages slow to encode
 * (measured: half the speed of the whole stream), while copying it once on a cache miss is cheap.
 */
function flat(text: string): string {
  return Buffer.from(text, 'utf8').toString('utf8')
}

function capitalize(word: string): string {
  return word.charAt(0).toUpperCase() + word.slice(1)
}

function latinName(rng: Random): string {
  let word = ''
  const syllables = rng.int(2, 3)
  for (let i = 0; i < syllables; i++) word += rng.pick(SYLLABLES)
  return capitalize(word)
}

function slug(text: string): string {
  return text
    .normalize('NFKD')
    .replace(/[^A-Za-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
}

function uniqueInts(rng: Random, n: number, min: number, max: number): number[] {
  const seen = new Set<number>()
  const out: number[] = []
  while (out.length < n) {
    const value = rng.int(min, max)
    if (!seen.has(value)) {
      seen.add(value)
      out.push(value)
    }
  }
  return out
}

function round(value: number, decimals: number): number {
  const f = 10 ** decimals
  return Math.round(value * f) / f
}

function decorate(rng: Random, name: string): string {
  let out = name
  if (rng.chance(0.02)) out = rng.chance(0.5) ? `${rng.pick(EMOJI)} ${out}` : `${out} ${rng.pick(EMOJI)}`
  if (rng.chance(0.04)) out = out.replace(' ', '  ')
  if (rng.chance(0.02)) out = rng.chance(0.5) ? ` ${out}` : `${out} `
  return out
}

function memberName(rng: Random): string {
  const r = rng.next()
  if (r < 0.01) return rng.pick(CJK_SURNAMES) + rng.pick(CJK_GIVEN)
  if (r < 0.015) return rng.chance(0.5) ? rng.pick(ARABIC_NAMES) : `${rng.pick(ARABIC_NAMES)} ${latinName(rng)}`
  if (r < 0.02) return rng.pick(HEBREW_NAMES)
  const first = latinName(rng)
  if (r < 0.22) return first
  if (r < 0.32) return `${first} ${latinName(rng).charAt(0)}.`
  if (r < 0.35) return `${first}  ${latinName(rng)}`
  if (r < 0.355) return `${first} ${rng.pick(EMOJI)}`
  if (r < 0.38) return `${first} "${latinName(rng)}" ${latinName(rng)}`
  if (r < 0.39) return `${first} ${latinName(rng)} `
  if (r < 0.41) return first.toLowerCase()
  return `${first} ${latinName(rng)}`
}

function eventName(rng: Random, topic: string, city: string): string {
  const r = rng.next()
  let name: string
  if (r < 0.02) name = rng.pick(CJK_EVENTS)
  else if (r < 0.03) name = rng.pick(ARABIC_EVENTS)
  else if (r < 0.04) name = rng.pick(HEBREW_EVENTS)
  else if (r < 0.45) name = `${rng.pick(EVENT_ADJECTIVES)} ${topic} ${rng.pick(EVENT_NOUNS)}`
  else if (r < 0.65) name = `${topic}: ${rng.pick(EVENT_SUBTITLES)}`
  else if (r < 0.75) name = `${topic} ${rng.pick(EVENT_NOUNS)} in ${city}`
  else if (r < 0.8) name = `"${rng.pick(EVENT_SUBTITLES)}" - ${topic} ${rng.pick(EVENT_NOUNS)}`
  else if (r < 0.83) {
    // longer than the cap on purpose: upstream cuts at 80, and so do we
    name =
      `${topic} ${rng.pick(EVENT_NOUNS)}: ${rng.pick(EVENT_SUBTITLES)}, ${rng.pick(EVENT_SUBTITLES)} ` +
      `and ${rng.pick(EVENT_SUBTITLES)} with friends from ${city} and around`
  } else name = `${rng.pick(EVENT_NOUNS)} #${rng.int(2, 250)}: ${topic}`
  name = decorate(rng, name)
  if (rng.chance(0.003)) name = `${name}\n${rng.pick(EVENT_SUBTITLES)}`
  return cap(name, NAME_CAP)
}

function groupName(rng: Random, topic: string, city: string): string {
  const r = rng.next()
  let name: string
  if (r < 0.015) name = `${city} ${rng.pick(CJK_GROUPS)}`
  else if (r < 0.02) name = rng.pick(ARABIC_GROUPS)
  else if (r < 0.025) name = `${rng.pick(HEBREW_GROUPS)} ${city}`
  else if (r < 0.03) name = `C:\\> ${city} Command Line ${rng.pick(GROUP_KINDS)}`
  else if (r < 0.5) name = `${city} ${topic} ${rng.pick(GROUP_KINDS)}`
  else if (r < 0.75) name = `${topic} ${rng.pick(GROUP_KINDS)} of ${city}`
  else name = `${rng.pick(EVENT_ADJECTIVES)} ${topic} ${rng.pick(GROUP_KINDS)}`
  return cap(decorate(rng, name), NAME_CAP)
}

function venueName(rng: Random, city: string): string {
  const r = rng.next()
  if (r < 0.01) return rng.pick(CJK_VENUES)
  if (r < 0.015) return 'مقهى النخيل'
  if (r < 0.02) return 'בית הקפה הקטן'
  if (r < 0.04) {
    let url = `https://www.example.com/venues/${slug(city).toLowerCase()}/rooms?ref=`
    const tail = rng.int(30, 90)
    for (let i = 0; i < tail; i++) url += String.fromCharCode(97 + rng.int(0, 25))
    return cap(url, URL_NAME_CAP)
  }
  if (r < 0.4) return cap(decorate(rng, `${rng.pick(VENUE_BASES)} ${city}`), NAME_CAP)
  return cap(decorate(rng, rng.pick(VENUE_BASES)), NAME_CAP)
}

function cityName(rng: Random): string {
  return `${rng.pick(CITY_PREFIXES)}${rng.pick(CITY_ROOTS)}${rng.pick(CITY_SUFFIXES)}`
}

const GUEST_SEGMENTS = Array.from({ length: 25 }, (_, g) => `"guests":${g},`)
const RESPONSE_SEGMENTS = ['"response":"no",', '"response":"yes",']

/** Mostly 0, sometimes 1 or 2, rarely up to 24, as in real captures. */
function drawGuests(rng: Random): number {
  const r = rng.next()
  if (r < 0.92) return 0
  if (r < 0.97) return 1
  if (r < 0.985) return 2
  return rng.int(3, 24)
}

type Options = ReturnType<typeof resolveOptions>

/**
 * The invented world: countries, cities, topics, groups, venues, events and members, with each
 * entity's details per epoch computed on demand and cached (one epoch per entity, which is nearly
 * always the one asked for next, since mtimes mostly increase).
 */
function createWorld(rng: Random, o: Options) {
  const alignedStart = o.startMtime - (o.startMtime % 1000)
  // Epochs start and last whole seconds, so truncating an mtime to seconds never moves it into
  // another epoch: a truncated resend carries the same details as the version it repeats.
  function epochShape(minDays: number, maxDays: number) {
    return {
      offset: alignedStart - rng.int(0, 5 * 86_400) * 1000,
      length: rng.int(minDays * 86_400, maxDays * 86_400) * 1000,
    }
  }

  // countries and cities
  const countries = COUNTRIES.slice(0, o.countries)
  const cityNames: string[] = []
  const cityCountry: string[] = []
  const cityState: (string | undefined)[] = []
  const cityLat: number[] = []
  const cityLon: number[] = []
  const citiesOf: number[][] = []
  const usedCityNames = new Set<string>()
  for (const country of countries) {
    const mine: number[] = []
    const n = rng.int(3, 6)
    for (let i = 0; i < n; i++) {
      let name = cityName(rng)
      while (usedCityNames.has(name)) name = cityName(rng)
      usedCityNames.add(name)
      mine.push(cityNames.length)
      cityNames.push(name)
      cityCountry.push(country.code)
      cityState.push(country.states ? rng.pick(country.states) : undefined)
      cityLat.push(round(country.lat + (rng.next() - 0.5) * 6, 2))
      cityLon.push(round(country.lon + (rng.next() - 0.5) * 6, 2))
    }
    citiesOf.push(mine)
  }

  // topics
  const topicNames: string[] = []
  const topicSegments: string[] = []
  const usedUrlkeys = new Set<string>()
  for (let i = 0; topicNames.length < o.topics; i++) {
    const base = TOPIC_BASE[i % TOPIC_BASE.length] as string
    const round = Math.floor(i / TOPIC_BASE.length)
    const suffix = TOPIC_SUFFIXES[round % TOPIC_SUFFIXES.length] as string
    const name = round < TOPIC_SUFFIXES.length ? base + suffix : `${base + suffix} ${Math.floor(round / 9) + 1}`
    let urlkey = slug(name).toLowerCase()
    while (usedUrlkeys.has(urlkey)) urlkey += 'x'
    usedUrlkeys.add(urlkey)
    topicNames.push(name)
    topicSegments.push(json({ urlkey, topic_name: name }))
  }

  // groups
  const groupIds = uniqueInts(rng, o.groups, 1_000_000, 40_000_000)
  const groupCity = new Int32Array(o.groups)
  const groupBaseName: string[] = []
  const groupUrlname: string[] = []
  const groupTopics: number[][] = []
  const groupExtraTopic = new Int32Array(o.groups)
  const groupIntegerCoords = new Uint8Array(o.groups)
  const groupSeed = new Int32Array(o.groups)
  const groupOffset = new Float64Array(o.groups)
  const groupLength = new Float64Array(o.groups)
  const usedUrlnames = new Set<string>()
  for (let g = 0; g < o.groups; g++) {
    const city = rng.pick(citiesOf[rng.zipf(countries.length, COUNTRY_ZIPF_S)] as number[])
    groupCity[g] = city
    const topicCount = Math.min(o.topics, rng.chance(0.1) ? rng.int(1, 5) : rng.int(6, 18))
    const topics = new Set<number>()
    while (topics.size < topicCount) topics.add(rng.zipf(o.topics, TOPIC_ZIPF_S))
    groupTopics.push([...topics])
    groupExtraTopic[g] = rng.int(0, o.topics - 1)
    const name = groupName(rng, topicNames[[...topics][0] as number] as string, cityNames[city] as string)
    groupBaseName.push(name)
    let urlname = slug(name) || `group-${(groupIds[g] as number).toString(36)}`
    if (usedUrlnames.has(urlname)) urlname = `${urlname}-${(groupIds[g] as number).toString(36)}`
    usedUrlnames.add(urlname)
    groupUrlname.push(urlname)
    groupIntegerCoords[g] = rng.chance(0.02) ? 1 : 0
    groupSeed[g] = rng.int(0, 0x7fffffff)
    const shape = epochShape(3, 10)
    groupOffset[g] = shape.offset
    groupLength[g] = shape.length
  }

  // venues: made as events need them; one shared fake "Online event" venue
  const venueIds: number[] = []
  const venueBaseName: string[] = []
  const venueLat: number[] = []
  const venueLon: number[] = []
  const venueSeed: number[] = []
  const venueOffset: number[] = []
  const venueLength: number[] = []
  const venuesOfCity: number[][] = cityNames.map(() => [])
  const usedVenueIds = new Set<number>()
  function addVenue(name: string, lat: number, lon: number): number {
    let id = rng.int(10_000_000, 30_000_000)
    while (usedVenueIds.has(id)) id = rng.int(10_000_000, 30_000_000)
    usedVenueIds.add(id)
    const shape = epochShape(5, 15)
    venueIds.push(id)
    venueBaseName.push(name)
    venueLat.push(lat)
    venueLon.push(lon)
    venueSeed.push(rng.int(0, 0x7fffffff))
    venueOffset.push(shape.offset)
    venueLength.push(shape.length)
    return venueIds.length - 1
  }
  const onlineVenue = addVenue('Online event', 0, 0)
  function venueIn(city: number): number {
    const existing = venuesOfCity[city] as number[]
    if (existing.length > 0 && rng.chance(0.4)) return rng.pick(existing)
    const r = rng.next()
    // 0/0 means "unknown" upstream; some coordinates arrive as integers
    const lat = r < 0.06 ? 0 : round((cityLat[city] as number) + (rng.next() - 0.5) * 0.1, 6)
    const lon = r < 0.06 ? 0 : round((cityLon[city] as number) + (rng.next() - 0.5) * 0.1, 6)
    const v = addVenue(venueName(rng, cityNames[city] as string), r > 0.97 ? Math.round(lat) : lat, lon)
    existing.push(v)
    return v
  }

  // events
  const eventIds: string[] = []
  const eventGroup = new Int32Array(o.events)
  const eventBaseName: string[] = []
  const eventUrl: string[] = []
  const eventTime = new Float64Array(o.events)
  const eventVenue = new Int32Array(o.events)
  const eventAltVenue = new Int32Array(o.events)
  const eventSeed = new Int32Array(o.events)
  const eventOffset = new Float64Array(o.events)
  const eventLength = new Float64Array(o.events)
  const numericIds = uniqueInts(rng, o.events, 200_000_000, 299_999_999)
  const usedAlphaIds = new Set<string>()
  for (let e = 0; e < o.events; e++) {
    let id = String(numericIds[e])
    let urlNumber = id
    if (rng.chance(1 / 3)) {
      do {
        id = ''
        for (let i = 0; i < 12; i++) id += String.fromCharCode(97 + rng.int(0, 25))
      } while (usedAlphaIds.has(id))
      usedAlphaIds.add(id)
      urlNumber = String(rng.int(200_000_000, 299_999_999))
    }
    eventIds.push(id)
    const g = rng.zipf(o.groups, GROUP_ZIPF_S)
    eventGroup[e] = g
    const city = groupCity[g] as number
    const topic = topicNames[(groupTopics[g] as number[])[0] as number] as string
    eventBaseName.push(eventName(rng, topic, cityNames[city] as string))
    eventUrl.push(`https://www.example.com/${groupUrlname[g]}/events/${urlNumber}/`)
    eventTime[e] = alignedStart + rng.int(0, Math.ceil(o.spanDays) + 21) * DAY_MS + rng.int(16, 40) * 1_800_000
    const r = rng.next()
    // no venue ~13%, the fake online venue ~4%; a physical venue has a second one it may move to
    const home = r < 0.13 ? -1 : r < 0.17 ? onlineVenue : venueIn(city)
    eventVenue[e] = home
    eventAltVenue[e] = home === -1 || home === onlineVenue ? home : venueIn(city)
    eventSeed[e] = rng.int(0, 0x7fffffff)
    const shape = epochShape(1, 4)
    eventOffset[e] = shape.offset
    eventLength[e] = shape.length
  }

  // members
  const memberIds = uniqueInts(rng, o.members, 1_000_000, 400_000_000)
  const memberBaseName: string[] = []
  const memberPhoto = new Uint8Array(o.members)
  const memberOther: string[] = []
  const memberSeed = new Int32Array(o.members)
  const memberOffset = new Float64Array(o.members)
  const memberLength = new Float64Array(o.members)
  for (let m = 0; m < o.members; m++) {
    memberBaseName.push(memberName(rng))
    memberPhoto[m] = rng.chance(0.94) ? 1 : 0
    memberOther.push(
      rng.chance(0.09)
        ? `"other_services":${json({ facebook: { identifier: `https://www.example.com/app_scoped_user_id/${rng.int(1e6, 9e9)}/` } })},`
        : '',
    )
    memberSeed[m] = rng.int(0, 0x7fffffff)
    const shape = epochShape(5, 20)
    memberOffset[m] = shape.offset
    memberLength[m] = shape.length
  }

  // per-entity caches of the last epoch asked for
  const groupEpoch = new Float64Array(o.groups).fill(Number.NaN)
  const groupSegment: string[] = new Array(o.groups).fill('')
  const venueEpoch = new Float64Array(venueIds.length).fill(Number.NaN)
  const venueSegment: string[] = new Array(venueIds.length).fill('')
  const eventEpoch = new Float64Array(o.events).fill(Number.NaN)
  const eventSegment: string[] = new Array(o.events).fill('')
  const eventVenueNow = new Int32Array(o.events)
  const memberEpoch = new Float64Array(o.members).fill(Number.NaN)
  const memberSegment: string[] = new Array(o.members).fill('')

  function groupPart(g: number, mtime: number): string {
    const epoch = Math.floor((mtime - (groupOffset[g] as number)) / (groupLength[g] as number))
    if (groupEpoch[g] === epoch) return groupSegment[g] as string
    const seed = groupSeed[g] as number
    const name = unit(seed, epoch, 1) < 0.08 ? cap(`${groupBaseName[g]} (relaunched)`, NAME_CAP) : groupBaseName[g]
    let topics = groupTopics[g] as number[]
    if (topics.length > 1 && unit(seed, epoch, 2) < 0.15) topics = topics.slice(0, -1)
    const extra = groupExtraTopic[g] as number
    if (unit(seed, epoch, 3) < 0.15 && !topics.includes(extra)) topics = [...topics, extra]
    const city = groupCity[g] as number
    const state = cityState[city]
    const lat = groupIntegerCoords[g] ? Math.round(cityLat[city] as number) : cityLat[city]
    const lon = groupIntegerCoords[g] ? Math.round(cityLon[city] as number) : cityLon[city]
    const segment =
      `"group":{"group_topics":[${topics.map((t) => topicSegments[t]).join(',')}],` +
      `"group_city":${json(cityNames[city])},"group_country":"${cityCountry[city]}","group_id":${groupIds[g]},` +
      `"group_name":${json(name)},"group_lon":${lon},"group_urlname":${json(groupUrlname[g])},` +
      `${state === undefined ? '' : `"group_state":"${state}",`}"group_lat":${lat}}`
    groupEpoch[g] = epoch
    groupSegment[g] = flat(segment)
    return segment
  }

  function venuePart(v: number, mtime: number): string {
    const epoch = Math.floor((mtime - (venueOffset[v] as number)) / (venueLength[v] as number))
    if (venueEpoch[v] === epoch) return venueSegment[v] as string
    const base = venueBaseName[v] as string
    const renamed = v !== onlineVenue && unit(venueSeed[v] as number, epoch, 1) < 0.05
    const name = renamed ? cap(`${base} (upstairs)`, URL_NAME_CAP) : base
    const segment = `"venue":{"venue_name":${json(name)},"lon":${venueLon[v]},"lat":${venueLat[v]},"venue_id":${venueIds[v]}},`
    venueEpoch[v] = epoch
    venueSegment[v] = flat(segment)
    return segment
  }

  /** The `"event":{...},` segment; also leaves the venue for that epoch in eventVenueNow. */
  function eventPart(e: number, mtime: number): string {
    const epoch = Math.floor((mtime - (eventOffset[e] as number)) / (eventLength[e] as number))
    if (eventEpoch[e] === epoch) return eventSegment[e] as string
    const seed = eventSeed[e] as number
    let name = eventBaseName[e] as string
    let time = eventTime[e] as number
    if (unit(seed, epoch, 1) < 0.3) {
      const [rename, moves] = EVENT_RENAMES[Math.floor(unit(seed, epoch, 2) * EVENT_RENAMES.length)] as readonly [
        (name: string) => string,
        boolean,
      ]
      name = cap(rename(name), NAME_CAP)
      if (moves) time += DAY_MS
    }
    const hasTime = unit(seed, epoch, 3) >= 0.005
    eventVenueNow[e] = unit(seed, epoch, 4) < 0.1 ? (eventAltVenue[e] as number) : (eventVenue[e] as number)
    const segment =
      `"event":{"event_name":${json(name)},"event_id":"${eventIds[e]}",` +
      `${hasTime ? `"time":${time},` : ''}"event_url":${json(eventUrl[e])}},`
    eventEpoch[e] = epoch
    eventSegment[e] = flat(segment)
    return segment
  }

  function memberPart(m: number, mtime: number): string {
    const epoch = Math.floor((mtime - (memberOffset[m] as number)) / (memberLength[m] as number))
    if (memberEpoch[m] === epoch) return memberSegment[m] as string
    const seed = memberSeed[m] as number
    const base = memberBaseName[m] as string
    const name = unit(seed, epoch, 1) < 0.05 ? `${base.trim()} ${initialOf(seed, epoch)}.` : base
    const id = memberIds[m] as number
    let photo = ''
    if (memberPhoto[m]) {
      // the photo number moves on now and then, as members change their picture
      const version = unit(seed, epoch, 2) < 0.2 ? epoch : 0
      const n = (id * 7 + version * 131) % 900_000_000
      const shard = (seed >>> 4) & 3
      photo = `"photo":${json(`http://photos${shard + 1}.example.com/photos/member/${(n % 16).toString(16)}/` + `${((n >> 4) % 16).toString(16)}/thumb_${n}.jpeg`)},`
    }
    const segment = `"member":{"member_id":${id},${memberOther[m]}${photo}"member_name":${json(name)}},`
    memberEpoch[m] = epoch
    memberSegment[m] = flat(segment)
    return segment
  }

  // a rename adds an initial, drawn from the epoch so it stays a function of (member, mtime)
  function initialOf(seed: number, epoch: number): string {
    return String.fromCharCode(65 + Math.floor(unit(seed, epoch, 5) * 26))
  }

  return {
    eventIds,
    eventGroup,
    eventVenueNow,
    groupPart,
    venuePart,
    eventPart,
    memberPart,
  }
}

/**
 * Yields exactly `options.count` messages in the order to send them. The clock runs evenly from
 * `startMtime` over `spanDays`; a message's kind is drawn by the configured shares, and the kinds
 * that need an earlier RSVP fall back to 'new' until one exists.
 */
export function* generateStream(options: GeneratorOptions): Generator<GeneratedMessage> {
  const o = resolveOptions(options)
  const rng = createRandom(o.seed)
  const world = createWorld(rng, o)
  const { eventGroup, eventIds, eventVenueNow } = world

  const poolId = new Float64Array(POOL_SIZE)
  const poolEvent = new Int32Array(POOL_SIZE)
  const poolMember = new Int32Array(POOL_SIZE)
  const poolMtime = new Float64Array(POOL_SIZE)
  const poolYes = new Uint8Array(POOL_SIZE)
  const poolGuests = new Uint8Array(POOL_SIZE)
  const poolLast: string[] = new Array(POOL_SIZE).fill('')
  let head = 0
  let filled = 0
  let nextRsvpId = 1_700_000_000 + rng.int(0, 1_000_000)

  const tInvalid = o.invalidShare
  const tResend = tInvalid + o.resendShare
  const tTruncated = tResend + o.truncatedResendShare
  const tFlip = tTruncated + o.flipShare
  const tUpdate = tFlip + o.updateShare
  const tMove = tUpdate + o.moveShare
  const tStale = tMove + o.staleShare
  const spanMs = o.spanDays * DAY_MS

  // Generated versions never sit on a whole second, so truncating one always makes it older.
  function version(mtime: number): number {
    const m = Math.max(1, Math.floor(mtime))
    return m % 1000 === 0 ? m + 1 : m
  }

  /** The mtime of an RSVP's next version: about now, and always after its current one. */
  function newerVersion(clock: number, current: number): number {
    return version(Math.max(clock - rng.int(0, 4000), current + rng.int(1000, 300_000)))
  }

  /** Most recent RSVPs are the likeliest to change again. */
  function pickSlot(): number {
    const back = Math.floor(filled * rng.next() ** 2)
    return (head - 1 - back + POOL_SIZE) % POOL_SIZE
  }

  function line(
    venue: string,
    response: string,
    guests: string,
    member: string,
    rsvpId: string,
    mtime: string,
    event: string,
    group: string,
  ): string {
    return `{${venue}"visibility":"public",${response}${guests}${member}${rsvpId}${mtime}${event}${group}}`
  }

  function render(e: number, m: number, id: number, mtime: number, yes: number, guests: number): string {
    const event = world.eventPart(e, mtime)
    const v = eventVenueNow[e] as number
    return line(
      v < 0 ? '' : world.venuePart(v, mtime),
      RESPONSE_SEGMENTS[yes] as string,
      GUEST_SEGMENTS[guests] as string,
      world.memberPart(m, mtime),
      `"rsvp_id":${id},`,
      `"mtime":${mtime},`,
      event,
      world.groupPart(eventGroup[e] as number, mtime),
    )
  }

  function invalid(clock: number): GeneratedMessage {
    // Broken messages often concern a known RSVP with a newer mtime: a service that wrongly
    // accepted one would change a count, so tests notice.
    let id: number
    let e: number
    let m: number
    let mtime: number
    let yes: number
    if (filled > 0 && rng.chance(0.7)) {
      const slot = pickSlot()
      id = poolId[slot] as number
      e = poolEvent[slot] as number
      m = poolMember[slot] as number
      mtime = version((poolMtime[slot] as number) + rng.int(1000, 60_000))
      yes = 1 - (poolYes[slot] as number)
    } else {
      id = nextRsvpId
      nextRsvpId += rng.int(1, 12)
      e = rng.zipf(o.events, EVENT_ZIPF_S)
      m = rng.zipf(o.members, MEMBER_ZIPF_S)
      mtime = version(clock - rng.int(0, 4000))
      yes = 1
    }
    const key = String(id)
    const event = world.eventPart(e, mtime)
    const v = eventVenueNow[e] as number
    const venue = v < 0 ? '' : world.venuePart(v, mtime)
    const response = RESPONSE_SEGMENTS[yes] as string
    const guests = GUEST_SEGMENTS[drawGuests(rng)] as string
    const member = world.memberPart(m, mtime)
    const idPart = `"rsvp_id":${id},`
    const mtimePart = `"mtime":${mtime},`
    const group = world.groupPart(eventGroup[e] as number, mtime)
    const eventId = eventIds[e] as string
    const whole = () => line(venue, response, guests, member, idPart, mtimePart, event, group)
    switch (rng.int(0, 13)) {
      case 0: {
        const garbage = [
          `rsvp_id=${id}&response=yes`,
          '<html><body><h1>502 Bad Gateway</h1></body></html>',
          `{'rsvp_id': ${id}, 'response': 'yes'}`,
          '',
          '\u0000\u0001\u0002',
          'undefined',
        ]
        return { key: undefined, value: rng.pick(garbage), kind: 'invalid' }
      }
      case 1: {
        const full = whole()
        let cut = rng.int(1, full.length - 1)
        // keep surrogate pairs whole, so the value is still well-formed UTF-16
        const code = full.charCodeAt(cut)
        if (code >= 0xdc00 && code <= 0xdfff) cut -= 1
        const value = full.slice(0, cut)
        return { key: value.includes(idPart) ? key : undefined, value, kind: 'invalid' }
      }
      case 2:
        return { key, value: `[${whole()}]`, kind: 'invalid' }
      case 3:
        return { key: undefined, value: 'null', kind: 'invalid' }
      case 4:
        return { key: undefined, value: rng.pick(['42', '"yes"', 'true', String(id)]), kind: 'invalid' }
      case 5:
        return {
          key: undefined,
          value: line(venue, response, guests, member, '', mtimePart, event, group),
          kind: 'invalid',
        }
      case 6: {
        const value = line(venue, response, guests, member, `"rsvp_id":"${id}",`, mtimePart, event, group)
        return { key, value, kind: 'invalid' }
      }
      case 7:
        return { key, value: line(venue, response, guests, member, idPart, '', event, group), kind: 'invalid' }
      case 8: {
        const value = line(venue, response, guests, member, idPart, `"mtime":"${mtime}",`, event, group)
        return { key, value, kind: 'invalid' }
      }
      case 9:
        return { key, value: line(venue, '', guests, member, idPart, mtimePart, event, group), kind: 'invalid' }
      case 10: {
        const value = line(venue, `"response":${yes},`, guests, member, idPart, mtimePart, event, group)
        return { key, value, kind: 'invalid' }
      }
      case 11:
        return { key, value: line(venue, response, guests, member, idPart, mtimePart, '', group), kind: 'invalid' }
      case 12: {
        const asNumber = /^\d+$/.test(eventId) ? eventId : String(rng.int(100_000, 999_999))
        const broken = event.replace(`"event_id":"${eventId}"`, `"event_id":${asNumber}`)
        return { key, value: line(venue, response, guests, member, idPart, mtimePart, broken, group), kind: 'invalid' }
      }
      default: {
        const broken = event.replace(`"event_id":"${eventId}"`, '"event_id":""')
        return { key, value: line(venue, response, guests, member, idPart, mtimePart, broken, group), kind: 'invalid' }
      }
    }
  }

  for (let i = 0; i < o.count; i++) {
    const clock = o.startMtime + Math.floor((i * spanMs) / o.count)
    const u = rng.next()
    if (u < tInvalid) {
      yield invalid(clock)
      continue
    }
    if (filled > 0 && u < tStale) {
      const slot = pickSlot()
      const id = poolId[slot] as number
      const e = poolEvent[slot] as number
      const m = poolMember[slot] as number
      const current = poolMtime[slot] as number
      const key = String(id)
      if (u < tResend) {
        yield { key, value: poolLast[slot] as string, kind: 'resend' }
        continue
      }
      if (u < tTruncated) {
        const value = render(e, m, id, current - (current % 1000), poolYes[slot] as number, poolGuests[slot] as number)
        poolLast[slot] = value
        yield { key, value, kind: 'truncated-resend' }
        continue
      }
      if (u < tUpdate) {
        const mtime = newerVersion(clock, current)
        let yes = poolYes[slot] as number
        let guests = poolGuests[slot] as number
        let kind: MessageKind
        if (u < tFlip) {
          yes = 1 - yes
          kind = 'flip'
        } else {
          const drawn = drawGuests(rng)
          guests = drawn !== guests ? drawn : guests === 0 ? 1 : guests - 1
          kind = 'update'
        }
        const value = render(e, m, id, mtime, yes, guests)
        poolMtime[slot] = mtime
        poolYes[slot] = yes
        poolGuests[slot] = guests
        poolLast[slot] = value
        yield { key, value, kind }
        continue
      }
      if (u < tMove) {
        const mtime = newerVersion(clock, current)
        const drawn = rng.zipf(o.events, EVENT_ZIPF_S)
        const moved = drawn !== e ? drawn : (e + 1) % o.events
        const value = render(moved, m, id, mtime, poolYes[slot] as number, poolGuests[slot] as number)
        poolEvent[slot] = moved
        poolMtime[slot] = mtime
        poolLast[slot] = value
        yield { key, value, kind: 'move' }
        continue
      }
      // stale: an older version, arriving late; it may say something else than the current one
      const mtime = Math.max(0, current - rng.int(60, 21 * 86_400) * 1000 - rng.int(0, 999))
      const yes = rng.chance(0.5) ? 1 - (poolYes[slot] as number) : (poolYes[slot] as number)
      const guests = rng.chance(0.3) ? drawGuests(rng) : (poolGuests[slot] as number)
      const value = render(e, m, id, mtime, yes, guests)
      poolLast[slot] = value
      yield { key, value, kind: 'stale' }
      continue
    }

    const id = nextRsvpId
    nextRsvpId += rng.int(1, 12)
    const e = rng.zipf(o.events, EVENT_ZIPF_S)
    const m = rng.zipf(o.members, MEMBER_ZIPF_S)
    const yes = rng.chance(0.73) ? 1 : 0
    const guests = drawGuests(rng)
    // a few RSVPs reach the stream hours or days late
    const late = rng.chance(0.005) ? rng.int(3600, 14 * 86_400) * 1000 : 0
    const mtime = version(clock - late - rng.int(0, 4000))
    const value = render(e, m, id, mtime, yes, guests)
    poolId[head] = id
    poolEvent[head] = e
    poolMember[head] = m
    poolMtime[head] = mtime
    poolYes[head] = yes
    poolGuests[head] = guests
    poolLast[head] = value
    head = (head + 1) % POOL_SIZE
    if (filled < POOL_SIZE) filled++
    yield { key: String(id), value, kind: 'new' }
  }
}
