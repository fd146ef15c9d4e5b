import type { Style } from '../../catalog/index.ts';
import { clampRgb, contrast, mix, rgb, saturate, scale } from './colour.ts';
import type { Rgb } from './colour.ts';
import type { ColourName, Ground, Scene, Subject, TimeOfDay } from './scene.ts';

/*
 * The colours of one scene: a base per time of day, changed by weather, by the colours the
 * prompt names, by its moods, and by dall-e-3's `style` (vivid: more saturated and contrasty,
 * natural: muted). Every pixel the painters write is a blend of these, so grading the palette
 * grades the picture without a per-pixel pass.
 */

export type PaletteColour =
  | 'skyTop'
  | 'skyMid'
  | 'skyHorizon'
  | 'sun'
  | 'sunGlow'
  | 'cloudLit'
  | 'cloudShade'
  | 'star'
  | 'moon'
  | 'mountainFar'
  | 'mountainNear'
  | 'snowCap'
  | 'haze'
  | 'water'
  | 'groundFar'
  | 'groundNear'
  | 'foliage'
  | 'building'
  | 'window'
  | 'paper'
  | 'paperShade'
  | 'sail'
  | 'hull'
  | 'fog'
  | 'light';

export interface Palette {
  readonly colour: Readonly<Record<PaletteColour, Rgb>>;
  /** Where the middle sky stop sits, from the top (0) to the horizon (1). */
  readonly skyMidAt: number;
  /** 0–1: how strongly the sky glows around the sun (or moon). */
  readonly glowStrength: number;
  readonly cloudOpacity: number;
  /** 0–1: how many stars show. */
  readonly starVisibility: number;
  readonly fogStrength: number;
  /** 0–1: how much the corners darken. */
  readonly vignette: number;
  /** Share of city windows that are lit. */
  readonly windowLitShare: number;
}

type Colours = Record<PaletteColour, Rgb>;

interface TimeBase {
  readonly colours: Omit<Colours, 'groundFar' | 'groundNear' | 'building' | 'window' | 'fog' | 'haze'>;
  readonly skyMidAt: number;
  readonly glowStrength: number;
  readonly starVisibility: number;
  /** How much light falls on the land (1 = noon). */
  readonly landLight: number;
  readonly windowLitShare: number;
}

const TIME_BASES: Readonly<Record<TimeOfDay, TimeBase>> = {
  sunrise: {
    colours: {
      skyTop: rgb(104, 100, 168),
      skyMid: rgb(238, 150, 152),
      skyHorizon: rgb(255, 198, 130),
      sun: rgb(255, 248, 224),
      sunGlow: rgb(255, 184, 112),
      cloudLit: rgb(255, 196, 176),
      cloudShade: rgb(196, 128, 156),
      star: rgb(255, 240, 230),
      moon: rgb(250, 240, 230),
      mountainFar: rgb(168, 128, 160),
      mountainNear: rgb(92, 76, 112),
      snowCap: rgb(255, 226, 214),
      water: rgb(40, 82, 140),
      foliage: rgb(58, 74, 70),
      paper: rgb(252, 246, 236),
      paperShade: rgb(198, 184, 196),
      sail: rgb(252, 244, 232),
      hull: rgb(120, 70, 50),
      light: rgb(255, 214, 170),
    },
    skyMidAt: 0.5,
    glowStrength: 0.8,
    starVisibility: 0.08,
    landLight: 0.8,
    windowLitShare: 0.15,
  },
  day: {
    colours: {
      skyTop: rgb(54, 116, 208),
      skyMid: rgb(112, 170, 232),
      skyHorizon: rgb(204, 226, 244),
      sun: rgb(255, 255, 244),
      sunGlow: rgb(255, 250, 226),
      cloudLit: rgb(255, 255, 255),
      cloudShade: rgb(186, 198, 216),
      star: rgb(255, 255, 255),
      moon: rgb(240, 240, 240),
      mountainFar: rgb(132, 158, 190),
      mountainNear: rgb(72, 102, 96),
      snowCap: rgb(250, 252, 255),
      water: rgb(26, 92, 150),
      foliage: rgb(46, 110, 52),
      paper: rgb(250, 250, 246),
      paperShade: rgb(196, 204, 214),
      sail: rgb(250, 250, 250),
      hull: rgb(150, 60, 40),
      light: rgb(255, 252, 240),
    },
    skyMidAt: 0.55,
    glowStrength: 0.35,
    starVisibility: 0,
    landLight: 1,
    windowLitShare: 0,
  },
  sunset: {
    colours: {
      skyTop: rgb(58, 48, 112),
      skyMid: rgb(206, 88, 112),
      skyHorizon: rgb(255, 152, 72),
      sun: rgb(255, 226, 160),
      sunGlow: rgb(255, 122, 58),
      cloudLit: rgb(255, 158, 108),
      cloudShade: rgb(112, 60, 100),
      star: rgb(255, 240, 230),
      moon: rgb(250, 236, 220),
      mountainFar: rgb(116, 72, 112),
      mountainNear: rgb(50, 34, 60),
      snowCap: rgb(255, 196, 170),
      water: rgb(36, 40, 84),
      foliage: rgb(36, 34, 44),
      paper: rgb(255, 238, 214),
      paperShade: rgb(168, 128, 150),
      sail: rgb(255, 236, 210),
      hull: rgb(70, 40, 40),
      light: rgb(255, 172, 112),
    },
    skyMidAt: 0.5,
    glowStrength: 0.85,
    starVisibility: 0.12,
    landLight: 0.6,
    windowLitShare: 0.35,
  },
  night: {
    colours: {
      skyTop: rgb(6, 10, 32),
      skyMid: rgb(16, 28, 68),
      skyHorizon: rgb(38, 58, 108),
      sun: rgb(255, 255, 255),
      sunGlow: rgb(120, 140, 196),
      cloudLit: rgb(96, 106, 138),
      cloudShade: rgb(28, 32, 52),
      star: rgb(255, 250, 236),
      moon: rgb(242, 240, 226),
      mountainFar: rgb(32, 42, 74),
      mountainNear: rgb(12, 18, 36),
      snowCap: rgb(170, 184, 214),
      water: rgb(10, 20, 46),
      foliage: rgb(10, 18, 24),
      paper: rgb(210, 216, 232),
      paperShade: rgb(110, 118, 150),
      sail: rgb(206, 212, 230),
      hull: rgb(30, 26, 34),
      light: rgb(150, 170, 220),
    },
    skyMidAt: 0.55,
    glowStrength: 0.3,
    starVisibility: 1,
    landLight: 0.2,
    windowLitShare: 0.45,
  },
};

const GROUND_COLOURS: Readonly<Record<Ground, readonly [Rgb, Rgb]>> = {
  grass: [rgb(134, 162, 84), rgb(58, 112, 40)],
  desert: [rgb(234, 196, 138), rgb(208, 156, 96)],
  snow: [rgb(236, 242, 252), rgb(212, 224, 242)],
  urban: [rgb(96, 96, 108), rgb(56, 56, 66)],
};

const NAMED_COLOURS: Readonly<Record<ColourName, Rgb>> = {
  red: rgb(220, 40, 40),
  orange: rgb(245, 140, 30),
  yellow: rgb(245, 220, 50),
  gold: rgb(232, 180, 60),
  green: rgb(50, 170, 70),
  teal: rgb(30, 170, 170),
  blue: rgb(40, 90, 220),
  purple: rgb(140, 60, 200),
  pink: rgb(240, 110, 180),
  white: rgb(245, 245, 245),
  silver: rgb(190, 195, 205),
  black: rgb(20, 20, 25),
  brown: rgb(120, 80, 45),
};

/** Which palette colours a colour bound to a subject recolours, and how strongly. */
const SUBJECT_TARGETS: Readonly<Record<Exclude<Subject, 'all'>, readonly (readonly [PaletteColour, number])[]>> = {
  sky: [
    ['skyTop', 0.45],
    ['skyMid', 0.5],
    ['skyHorizon', 0.4],
    ['cloudLit', 0.25],
    ['sunGlow', 0.3],
  ],
  water: [['water', 0.65]],
  boat: [
    ['paper', 0.8],
    ['paperShade', 0.7],
    ['sail', 0.8],
    ['hull', 0.6],
  ],
  trees: [['foliage', 0.7]],
  mountains: [
    ['mountainFar', 0.45],
    ['mountainNear', 0.55],
  ],
  city: [
    ['building', 0.5],
    ['window', 0.6],
  ],
  ground: [
    ['groundFar', 0.6],
    ['groundNear', 0.6],
  ],
};

/** Grading from moods and style, applied to every colour. */
interface Grade {
  saturation: number;
  contrast: number;
  brightness: number;
  vignette: number;
}

/** Builds the palette of a scene, graded for `style` (dall-e-3's vivid/natural; null = neutral). */
export function buildPalette(scene: Scene, style: Style | null): Palette {
  const base = TIME_BASES[scene.timeOfDay];
  const light = base.colours.light;
  // Land takes half its colour cast from the light of the hour, and its brightness.
  const cast = (channel: number): number => (0.5 + (0.5 * channel) / 255) * base.landLight;
  const lit = (c: Rgb): Rgb => [c[0] * cast(light[0]), c[1] * cast(light[1]), c[2] * cast(light[2])];
  const [groundFar, groundNear] = GROUND_COLOURS[scene.ground ?? 'grass'];
  const night = scene.timeOfDay === 'night';
  const colours: Colours = {
    ...base.colours,
    groundFar: mix(lit(groundFar), base.colours.skyHorizon, 0.18),
    groundNear: lit(groundNear),
    building: night ? rgb(20, 24, 40) : mix(lit(rgb(120, 126, 140)), base.colours.skyHorizon, 0.2),
    window: night || scene.timeOfDay === 'sunset' ? rgb(255, 212, 128) : mix(base.colours.skyMid, rgb(40, 50, 70), 0.5),
    fog: mix(base.colours.skyHorizon, rgb(220, 224, 230), night ? 0.1 : 0.45),
    haze: base.colours.skyHorizon,
  };
  let glowStrength = base.glowStrength;
  let cloudOpacity = 0.9;
  let fogStrength = 0;
  let starVisibility = base.starVisibility;

  // Weather greys the sky and hides the sun and stars.
  if (scene.weather === 'cloudy' || scene.weather === 'storm') {
    const storm = scene.weather === 'storm';
    const grey = storm ? rgb(64, 70, 84) : rgb(176, 182, 194);
    const amount = storm ? 0.62 : 0.38;
    for (const key of ['skyTop', 'skyMid', 'skyHorizon', 'cloudLit', 'cloudShade', 'water', 'haze', 'sunGlow'] as const) {
      colours[key] = mix(saturate(colours[key], storm ? 0.5 : 0.7), night ? scale(grey, 0.25) : grey, amount);
    }
    if (storm) colours.cloudShade = scale(colours.cloudShade, 0.55);
    // Under cloud the land loses its light and colour too.
    for (const key of ['groundFar', 'groundNear', 'foliage', 'mountainFar', 'mountainNear', 'building', 'snowCap'] as const) {
      colours[key] = scale(saturate(colours[key], storm ? 0.55 : 0.75), storm ? 0.62 : 0.85);
    }
    glowStrength *= storm ? 0.15 : 0.45;
    starVisibility *= 0.1;
    cloudOpacity = storm ? 1 : 0.95;
  }
  if (scene.weather === 'fog') {
    fogStrength = 0.7;
    glowStrength *= 0.6;
    starVisibility *= 0.3;
  }

  for (const { name, subject } of scene.colours) {
    const named = NAMED_COLOURS[name];
    if (subject === 'all') {
      for (const key of Object.keys(colours) as PaletteColour[]) {
        if (key === 'sun' || key === 'star' || key === 'moon') continue;
        colours[key] = mix(colours[key], named, key === 'skyMid' || key === 'skyHorizon' || key === 'water' ? 0.3 : 0.16);
      }
    } else {
      for (const [key, amount] of SUBJECT_TARGETS[subject]) colours[key] = mix(colours[key], named, amount);
    }
  }

  const grade = gradeOf(scene, style);
  const graded = {} as Colours;
  for (const key of Object.keys(colours) as PaletteColour[]) {
    graded[key] = clampRgb(contrast(saturate(scale(colours[key], grade.brightness), grade.saturation), grade.contrast));
  }
  return {
    colour: graded,
    skyMidAt: base.skyMidAt,
    glowStrength,
    cloudOpacity,
    starVisibility,
    fogStrength,
    vignette: grade.vignette,
    windowLitShare: base.windowLitShare,
  };
}

function gradeOf(scene: Scene, style: Style | null): Grade {
  // No vignette unless a mood asks for one: it is a dramatic device, and a pass over every pixel.
  const grade: Grade = { saturation: 1, contrast: 1, brightness: 1, vignette: 0 };
  for (const mood of scene.moods) {
    switch (mood) {
      case 'calm':
        grade.contrast *= 0.94;
        break;
      case 'dramatic':
        grade.contrast *= 1.18;
        grade.saturation *= 1.1;
        grade.vignette = 0.42;
        break;
      case 'dark':
        grade.brightness *= 0.62;
        grade.vignette = Math.max(grade.vignette, 0.3);
        break;
      case 'bright':
        grade.brightness *= 1.1;
        grade.contrast *= 0.96;
        break;
      case 'vivid':
        grade.saturation *= 1.3;
        break;
      case 'soft':
        grade.saturation *= 0.7;
        grade.contrast *= 0.86;
        grade.brightness *= 1.04;
        break;
    }
  }
  // dall-e-3's styles, per OpenAI: vivid leans "hyper-real and dramatic", natural "more natural, less hyper-real".
  if (style === 'vivid') {
    grade.saturation *= 1.32;
    grade.contrast *= 1.12;
    grade.vignette = Math.max(grade.vignette, 0.2);
  } else if (style === 'natural') {
    grade.saturation *= 0.7;
    grade.contrast *= 0.92;
    grade.vignette *= 0.5;
  }
  return grade;
}
