import type { Style } from '../../catalog/index.ts';
import type { ColourName, Scene, Subject } from './scene.ts';

/*
 * dall-e-3 answers with `revised_prompt`, the expanded prompt it really drew. The local renderer
 * does the same honestly: a sentence describing the scene it composed from the prompt's words,
 * the same for the same prompt and style.
 */

const TIME_PHRASE = { sunrise: 'at sunrise', day: 'in the middle of the day', sunset: 'at sunset', night: 'at night' } as const;

const WATER_NOUN: Readonly<Record<string, string>> = {
  sea: 'sea',
  ocean: 'ocean',
  lake: 'lake',
  river: 'river',
  pond: 'pond',
  bay: 'bay',
  harbor: 'harbor',
  harbour: 'harbour',
  lagoon: 'lagoon',
  beach: 'sea',
  shore: 'sea',
  coast: 'sea',
  waves: 'sea',
};

export function revisePrompt(scene: Scene, style: Style | null, prompt: string): string {
  const water = scene.water;
  const waterNoun = water === null ? 'water' : (WATER_NOUN[water.noun] ?? 'water');
  const waterColour = colourWords(scene, 'water');
  // "calm water", but "a calm lake".
  const waterPhrase =
    water === null ? '' : `${waterNoun === 'water' ? '' : 'a '}${water.calm ? 'calm' : 'rippling'} ${waterColour ? `${waterColour} ` : ''}${waterNoun}`;
  const boatColour = colourWords(scene, 'boat');

  let subject: string;
  if (scene.boat !== null && water !== null) {
    const tinted = boatColour ? `${boatColour} ` : '';
    const boat = scene.boat === 'paper' ? `${tinted}paper boat` : `small ${tinted}sailboat`;
    subject = `${article(boat)} ${boat} floating on ${waterPhrase}`;
  } else if (scene.city) {
    subject = water === null ? 'A city skyline' : `A city skyline above ${waterPhrase}`;
  } else if (water !== null) {
    subject = `A wide view of ${waterPhrase}`;
  } else if (scene.mountains) {
    subject = 'A mountain landscape';
  } else {
    subject = { grass: 'A green meadow', desert: 'A desert of sand dunes', snow: 'A snowy landscape', urban: 'A quiet street' }[scene.ground ?? 'grass'];
  }
  if (!scene.recognised) subject = `A landscape inspired by “${truncate(prompt.trim(), 80)}”, ${lowerFirst(subject)}`;

  const parts = [`${subject} ${TIME_PHRASE[scene.timeOfDay]}`, skyPhrase(scene)];
  const extras: string[] = [];
  if (scene.mountains && (scene.city || water !== null || scene.boat !== null)) extras.push('layered mountains on the horizon');
  if (scene.city && scene.timeOfDay !== 'day') extras.push('windows glowing in the buildings');
  if (scene.trees) extras.push(water === null ? 'trees framing the view' : 'a line of dark trees along the far shore');
  if (water !== null && scene.ground !== null)
    extras.push(`a ${scene.ground === 'desert' ? 'sandy' : scene.ground === 'snow' ? 'snowy' : 'grassy'} shore in the foreground`);
  if (water !== null) extras.push(water.calm ? 'the surface mirroring the sky in gentle ripples' : 'the surface broken into restless ripples');
  if (extras.length > 0) parts.push(`with ${joinList(extras)}`);

  const all = colourWords(scene, 'all');
  const mood = scene.moods.includes('dramatic')
    ? 'dramatic'
    : scene.moods.includes('calm')
      ? 'serene'
      : scene.moods.includes('dark')
        ? 'dark, moody'
        : 'peaceful';
  const palette = style === 'vivid' ? 'vivid, saturated colours' : style === 'natural' ? 'natural, muted tones' : 'soft, painterly colours';
  const tint = all ? ` with accents of ${all}` : '';
  return `${parts.join(', ')}; a ${mood} scene in ${palette}${tint}, rendered as a stylised digital landscape.`;
}

function skyPhrase(scene: Scene): string {
  const sky = colourWords(scene, 'sky');
  const tinted = sky ? `${sky} ` : '';
  switch (scene.weather) {
    case 'storm':
      return `beneath dark ${tinted}storm clouds`;
    case 'cloudy':
      return `under a ${tinted}overcast sky`;
    case 'fog':
      return `in soft drifting fog`;
    case 'clear':
      break;
  }
  const clouds = scene.clouds ? ' and scattered clouds' : '';
  switch (scene.timeOfDay) {
    case 'sunrise':
      return `under a warm ${tinted || 'orange and pink '}sky with the sun low on the horizon${clouds}`;
    case 'day':
      return `under a clear ${tinted || 'blue '}sky${clouds}`;
    case 'sunset':
      return `under a glowing ${tinted || 'orange and purple '}sky as the sun sinks${clouds}`;
    case 'night':
      return `under a deep ${tinted || 'blue '}night sky with stars and a pale moon${clouds}`;
  }
}

function colourWords(scene: Scene, subject: Subject): string {
  const names: ColourName[] = scene.colours.filter((c) => c.subject === subject).map((c) => c.name);
  return joinList(names);
}

function joinList(items: readonly string[]): string {
  if (items.length <= 1) return items[0] ?? '';
  return `${items.slice(0, -1).join(', ')} and ${items[items.length - 1] ?? ''}`;
}

function article(word: string): string {
  return /^[aeiou]/i.test(word) ? 'An' : 'A';
}

function lowerFirst(text: string): string {
  return text.charAt(0).toLowerCase() + text.slice(1);
}

function truncate(text: string, maxChars: number): string {
  return text.length <= maxChars ? text : `${text.slice(0, maxChars - 1)}…`;
}
