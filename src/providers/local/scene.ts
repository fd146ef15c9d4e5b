import { hashString } from './prng.ts';

/*
 * What a prompt asks the renderer to draw. The renderer understands a small vocabulary of
 * landscape words; everything else in the prompt only feeds the seed. A prompt with none of the
 * words still gets a landscape, chosen from the prompt's hash, so different prompts differ.
 */

export type TimeOfDay = 'sunrise' | 'day' | 'sunset' | 'night';
export type Weather = 'clear' | 'cloudy' | 'storm' | 'fog';
export type Ground = 'grass' | 'desert' | 'snow' | 'urban';
export type BoatKind = 'paper' | 'sail';
export type Mood = 'calm' | 'dramatic' | 'dark' | 'bright' | 'vivid' | 'soft';
export type ColourName = 'red' | 'orange' | 'yellow' | 'gold' | 'green' | 'teal' | 'blue' | 'purple' | 'pink' | 'white' | 'silver' | 'black' | 'brown';
/** The things a named colour can be bound to ("a red boat"); `all` tints the whole picture. */
export type Subject = 'sky' | 'water' | 'boat' | 'trees' | 'mountains' | 'city' | 'ground' | 'all';

export interface SceneColour {
  readonly name: ColourName;
  readonly subject: Subject;
}

export interface Scene {
  readonly timeOfDay: TimeOfDay;
  readonly weather: Weather;
  /** The prompt asked for clouds (besides what the weather brings). */
  readonly clouds: boolean;
  readonly water: { readonly calm: boolean; readonly noun: string } | null;
  readonly mountains: boolean;
  readonly boat: BoatKind | null;
  readonly trees: boolean;
  readonly city: boolean;
  readonly ground: Ground | null;
  readonly colours: readonly SceneColour[];
  readonly moods: readonly Mood[];
  /** A hash of the prompt: picks defaults and small variations that every image of the prompt shares. */
  readonly variant: number;
  /** Whether the prompt named anything in the vocabulary. */
  readonly recognised: boolean;
}

const TIME_WORDS: Readonly<Record<string, TimeOfDay>> = {
  sunrise: 'sunrise',
  dawn: 'sunrise',
  daybreak: 'sunrise',
  morning: 'sunrise',
  day: 'day',
  daytime: 'day',
  noon: 'day',
  midday: 'day',
  afternoon: 'day',
  sunny: 'day',
  daylight: 'day',
  sunset: 'sunset',
  dusk: 'sunset',
  evening: 'sunset',
  twilight: 'sunset',
  sundown: 'sunset',
  night: 'night',
  midnight: 'night',
  nighttime: 'night',
  moon: 'night',
  moonlight: 'night',
  moonlit: 'night',
  starry: 'night',
  stars: 'night',
};
const WEATHER_WORDS: Readonly<Record<string, Weather>> = {
  storm: 'storm',
  stormy: 'storm',
  thunder: 'storm',
  thunderstorm: 'storm',
  lightning: 'storm',
  rain: 'storm',
  rainy: 'storm',
  tempest: 'storm',
  cloudy: 'cloudy',
  overcast: 'cloudy',
  grey: 'cloudy',
  gray: 'cloudy',
  fog: 'fog',
  foggy: 'fog',
  mist: 'fog',
  misty: 'fog',
  haze: 'fog',
  hazy: 'fog',
};
const CLOUD_WORDS = new Set(['cloud', 'clouds', 'cloudy', 'overcast']);
const WATER_WORDS = new Set([
  'water',
  'sea',
  'ocean',
  'lake',
  'river',
  'pond',
  'bay',
  'harbor',
  'harbour',
  'waves',
  'beach',
  'shore',
  'coast',
  'lagoon',
  'reflection',
]);
const CALM_WORDS = new Set(['calm', 'still', 'tranquil', 'serene', 'quiet', 'glassy', 'peaceful', 'placid', 'gentle', 'mirror']);
const ROUGH_WORDS = new Set(['waves', 'rough', 'choppy', 'wild', 'stormy', 'storm', 'crashing']);
const MOUNTAIN_WORDS = new Set(['mountain', 'mountains', 'hill', 'hills', 'peak', 'peaks', 'alps', 'volcano', 'range', 'cliffs', 'canyon']);
const BOAT_WORDS = new Set(['boat', 'boats', 'sailboat', 'sailboats', 'ship', 'ships', 'yacht', 'sail', 'sailing', 'canoe', 'kayak', 'vessel']);
const PAPER_WORDS = new Set(['paper', 'origami']);
const TREE_WORDS = new Set(['tree', 'trees', 'forest', 'forests', 'woods', 'pine', 'pines', 'jungle', 'grove', 'woodland']);
const CITY_WORDS = new Set([
  'city',
  'skyline',
  'buildings',
  'building',
  'skyscraper',
  'skyscrapers',
  'town',
  'downtown',
  'urban',
  'metropolis',
  'cityscape',
  'street',
]);
const GROUND_WORDS: Readonly<Record<string, Ground>> = {
  desert: 'desert',
  sand: 'desert',
  sandy: 'desert',
  dunes: 'desert',
  dune: 'desert',
  sahara: 'desert',
  beach: 'desert',
  snow: 'snow',
  snowy: 'snow',
  winter: 'snow',
  ice: 'snow',
  icy: 'snow',
  frozen: 'snow',
  glacier: 'snow',
  arctic: 'snow',
  field: 'grass',
  fields: 'grass',
  grass: 'grass',
  grassy: 'grass',
  meadow: 'grass',
  meadows: 'grass',
  prairie: 'grass',
  farm: 'grass',
  lawn: 'grass',
  valley: 'grass',
  countryside: 'grass',
};
const COLOUR_WORDS: Readonly<Record<string, ColourName>> = {
  red: 'red',
  crimson: 'red',
  scarlet: 'red',
  orange: 'orange',
  amber: 'orange',
  yellow: 'yellow',
  gold: 'gold',
  golden: 'gold',
  green: 'green',
  emerald: 'green',
  teal: 'teal',
  turquoise: 'teal',
  cyan: 'teal',
  blue: 'blue',
  azure: 'blue',
  navy: 'blue',
  purple: 'purple',
  violet: 'purple',
  lavender: 'purple',
  pink: 'pink',
  magenta: 'pink',
  rose: 'pink',
  white: 'white',
  silver: 'silver',
  black: 'black',
  brown: 'brown',
};
const MOOD_WORDS: Readonly<Record<string, Mood>> = {
  calm: 'calm',
  serene: 'calm',
  peaceful: 'calm',
  tranquil: 'calm',
  quiet: 'calm',
  dramatic: 'dramatic',
  epic: 'dramatic',
  majestic: 'dramatic',
  cinematic: 'dramatic',
  dark: 'dark',
  gloomy: 'dark',
  moody: 'dark',
  ominous: 'dark',
  eerie: 'dark',
  bright: 'bright',
  cheerful: 'bright',
  sunny: 'bright',
  radiant: 'bright',
  vivid: 'vivid',
  vibrant: 'vivid',
  colorful: 'vivid',
  colourful: 'vivid',
  saturated: 'vivid',
  soft: 'soft',
  pastel: 'soft',
  muted: 'soft',
  dreamy: 'soft',
  faded: 'soft',
};
/** Nouns a colour word right before them binds to. */
const SUBJECT_WORDS: Readonly<Record<string, Subject>> = {
  sky: 'sky',
  skies: 'sky',
  clouds: 'sky',
  cloud: 'sky',
  sun: 'sky',
  water: 'water',
  sea: 'water',
  ocean: 'water',
  lake: 'water',
  river: 'water',
  waves: 'water',
  boat: 'boat',
  sailboat: 'boat',
  ship: 'boat',
  sail: 'boat',
  sails: 'boat',
  yacht: 'boat',
  canoe: 'boat',
  tree: 'trees',
  trees: 'trees',
  forest: 'trees',
  leaves: 'trees',
  pines: 'trees',
  mountain: 'mountains',
  mountains: 'mountains',
  hills: 'mountains',
  peaks: 'mountains',
  city: 'city',
  buildings: 'city',
  skyline: 'city',
  towers: 'city',
  lights: 'city',
  field: 'ground',
  grass: 'ground',
  sand: 'ground',
  meadow: 'ground',
  dunes: 'ground',
  desert: 'ground',
};

/** Reads the renderer's vocabulary out of a prompt. Pure and deterministic. */
export function describeScene(prompt: string): Scene {
  const words: readonly string[] = prompt.toLowerCase().match(/[a-z]+/g) ?? [];
  const has = (set: ReadonlySet<string>): boolean => words.some((w) => set.has(w));
  const first = <T>(table: Readonly<Record<string, T>>): T | undefined => {
    for (const w of words) if (Object.hasOwn(table, w)) return table[w];
    return undefined;
  };
  const variant = hashString(prompt.trim().toLowerCase());

  const askedTime = /\bgolden hour\b/.test(prompt.toLowerCase()) ? 'sunset' : first(TIME_WORDS);
  const askedWeather = first(WEATHER_WORDS);
  const askedGround = first(GROUND_WORDS);
  const askedWater = has(WATER_WORDS);
  const boatWord = has(BOAT_WORDS);
  const recognised =
    askedTime !== undefined ||
    askedWeather !== undefined ||
    askedGround !== undefined ||
    askedWater ||
    boatWord ||
    has(MOUNTAIN_WORDS) ||
    has(TREE_WORDS) ||
    has(CITY_WORDS) ||
    has(CLOUD_WORDS);

  // A prompt outside the vocabulary still gets a whole landscape, picked by its hash.
  const fallback = FALLBACK_LANDSCAPES[variant % FALLBACK_LANDSCAPES.length] ?? FALLBACK_LANDSCAPES[0];
  const pick = recognised ? null : fallback;

  const city = has(CITY_WORDS) || (pick?.city ?? false);
  // A skyline with nothing under it gets a river to stand on: its lights then shine twice.
  const water = askedWater || boatWord || (pick?.water ?? false) || (city && askedGround === undefined && !words.includes('street'));
  const moods = unique(words.flatMap((w) => (Object.hasOwn(MOOD_WORDS, w) ? [MOOD_WORDS[w] as Mood] : [])));

  return {
    // A prompt that names a scene but no hour gets daylight; one outside the vocabulary, any hour.
    timeOfDay: askedTime ?? (recognised ? 'day' : (pick?.time ?? TIMES[(variant >>> 8) % TIMES.length] ?? 'day')),
    weather: askedWeather ?? 'clear',
    clouds: has(CLOUD_WORDS),
    water: water ? { calm: has(CALM_WORDS) || !has(ROUGH_WORDS), noun: firstOf(words, WATER_WORDS) ?? (city ? 'river' : 'water') } : null,
    mountains: has(MOUNTAIN_WORDS) || (pick?.mountains ?? false),
    boat: boatWord ? (has(PAPER_WORDS) ? 'paper' : 'sail') : null,
    trees: has(TREE_WORDS) || (pick?.trees ?? false),
    city,
    ground: askedGround ?? pick?.ground ?? (water ? null : city ? 'urban' : 'grass'),
    colours: bindColours(words),
    moods,
    variant,
    recognised,
  };
}

const TIMES: readonly TimeOfDay[] = ['day', 'sunset', 'sunrise', 'night'];

interface Fallback {
  readonly time?: TimeOfDay;
  readonly water?: boolean;
  readonly mountains?: boolean;
  readonly trees?: boolean;
  readonly city?: boolean;
  readonly ground?: Ground;
}

const FALLBACK_LANDSCAPES: readonly [Fallback, ...Fallback[]] = [
  { ground: 'grass', trees: true },
  { water: true, mountains: true },
  { ground: 'desert', mountains: true },
  { ground: 'snow', mountains: true, trees: true },
  { water: true },
  { city: true, water: true, time: 'night' },
  { ground: 'grass', mountains: true },
];

/** Colour words, each bound to the subject noun that follows within two words, else to `all`. */
function bindColours(words: readonly string[]): SceneColour[] {
  const colours: SceneColour[] = [];
  words.forEach((word, i) => {
    if (!Object.hasOwn(COLOUR_WORDS, word)) return;
    const name = COLOUR_WORDS[word] as ColourName;
    // "golden hour" is a time of day, not a colour.
    if (name === 'gold' && words[i + 1] === 'hour') return;
    let subject: Subject = 'all';
    for (const next of [words[i + 1], words[i + 2]]) {
      if (next !== undefined && Object.hasOwn(SUBJECT_WORDS, next)) {
        subject = SUBJECT_WORDS[next] as Subject;
        break;
      }
    }
    if (!colours.some((c) => c.name === name && c.subject === subject)) colours.push({ name, subject });
  });
  return colours;
}

function firstOf(words: readonly string[], set: ReadonlySet<string>): string | undefined {
  return words.find((w) => set.has(w));
}

function unique<T>(items: readonly T[]): T[] {
  return [...new Set(items)];
}
