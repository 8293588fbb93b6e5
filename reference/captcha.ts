// The graphic CAPTCHA of GET /site/captcha (base64Captcha's character captcha with the site's defaults: 240 × 60,
// six digits and letters, noise dots and a line): a PNG data URL and a ticket; the answer is checked
// case-insensitively and once (base64Captcha.VerifyCaptcha clears it).
import { randomBytes, randomInt } from 'node:crypto';
import { encodePng } from './image.js';

/** A 5 × 7 bitmap font: one row per number, the high bit on the left. */
const FONT: Record<string, number[]> = {
  0: [14, 17, 19, 21, 25, 17, 14], 1: [4, 12, 4, 4, 4, 4, 14], 2: [14, 17, 1, 2, 4, 8, 31], 3: [31, 2, 4, 2, 1, 17, 14],
  4: [2, 6, 10, 18, 31, 2, 2], 5: [31, 16, 30, 1, 1, 17, 14], 6: [6, 8, 16, 30, 17, 17, 14], 7: [31, 1, 2, 4, 8, 8, 8],
  8: [14, 17, 17, 14, 17, 17, 14], 9: [14, 17, 17, 15, 1, 2, 12],
  A: [14, 17, 17, 31, 17, 17, 17], B: [30, 17, 17, 30, 17, 17, 30], C: [14, 17, 16, 16, 16, 17, 14],
  D: [28, 18, 17, 17, 17, 18, 28], E: [31, 16, 16, 30, 16, 16, 31], F: [31, 16, 16, 30, 16, 16, 16],
  G: [14, 17, 16, 23, 17, 17, 15], H: [17, 17, 17, 31, 17, 17, 17], J: [7, 2, 2, 2, 2, 18, 12],
  K: [17, 18, 20, 24, 20, 18, 17], L: [16, 16, 16, 16, 16, 16, 31], M: [17, 27, 21, 21, 17, 17, 17],
  N: [17, 17, 25, 21, 19, 17, 17], P: [30, 17, 17, 30, 16, 16, 16], Q: [14, 17, 17, 17, 21, 18, 13],
  R: [30, 17, 17, 30, 20, 18, 17], S: [15, 16, 16, 14, 1, 1, 30], T: [31, 4, 4, 4, 4, 4, 4], U: [17, 17, 17, 17, 17, 17, 14],
  V: [17, 17, 17, 17, 17, 10, 4], W: [17, 17, 17, 21, 21, 21, 10], X: [17, 17, 10, 4, 10, 17, 17], Y: [17, 17, 10, 4, 4, 4, 4],
  Z: [31, 1, 2, 4, 8, 16, 31],
};
const CHARS = Object.keys(FONT).join('');
const TICKET_CHARS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

export function newCaptcha(length = 6, width = 240, height = 60): { ticket: string; answer: string; image: string } {
  const answer = Array.from({ length }, () => CHARS[randomInt(CHARS.length)]!).join('');
  const ticket = Array.from(randomBytes(20), (b) => TICKET_CHARS[b % TICKET_CHARS.length]).join('');
  const data = Buffer.alloc(width * height * 4);
  const bg = [225 + randomInt(30), 225 + randomInt(30), 225 + randomInt(30)];
  for (let i = 0; i < width * height; i++) data.set([bg[0]!, bg[1]!, bg[2]!, 255], i * 4);
  const plot = (x: number, y: number, c: number[]) => {
    if (x < 0 || y < 0 || x >= width || y >= height) return;
    data.set([c[0]!, c[1]!, c[2]!, 255], (y * width + x) * 4);
  };
  // noise dots
  for (let i = 0; i < (width * height) / 12; i++) {
    plot(randomInt(width), randomInt(height), [randomInt(200), randomInt(200), randomInt(200)]);
  }
  // the characters, each in its own colour, slightly shifted
  const cell = Math.floor(width / length);
  const scale = Math.max(1, Math.floor(Math.min(cell / 7, height / 10)));
  [...answer].forEach((ch, i) => {
    const colour = [randomInt(160), randomInt(160), randomInt(160)];
    const x0 = i * cell + Math.floor((cell - 5 * scale) / 2) + randomInt(5) - 2;
    const y0 = Math.floor((height - 7 * scale) / 2) + randomInt(9) - 4;
    FONT[ch]!.forEach((row, ry) => {
      for (let rx = 0; rx < 5; rx++) {
        if (!(row & (1 << (4 - rx)))) continue;
        for (let dy = 0; dy < scale; dy++) for (let dx = 0; dx < scale; dx++) plot(x0 + rx * scale + dx, y0 + ry * scale + dy, colour);
      }
    });
  });
  // a line across
  const colour = [randomInt(160), randomInt(160), randomInt(160)];
  const ya = randomInt(height);
  const yb = randomInt(height);
  for (let x = 0; x < width; x++) {
    const y = Math.round(ya + ((yb - ya) * x) / width);
    plot(x, y, colour);
    plot(x, y + 1, colour);
  }
  const png = encodePng({ width, height, data });
  return { ticket, answer, image: `data:image/png;base64,${png.toString('base64')}` };
}
