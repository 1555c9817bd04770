// The in-page plate scanner (load it lazily: `const { openScanner } = await import(...)`).
//
// openScanner(container, {onChip, onRefused, purpose}) -> {close()}
//   purpose 'staff' (default): frames go to POST /api/v1/scan (staff session); the first chip
//     that verifies calls onChip(chipText, result).
//   purpose 'household': frames go to POST /api/v1/households/session/photo; a plate that
//     verifies opens the household session and calls onChip(null, householdPage).
//   A refused chip (revoked, expired, forged) stops the scanner and calls
//   onRefused(status, detail).
// Live camera (rear, torch toggle when the track supports it), frames downscaled to
// <= 1280 px and sent as JPEG a few times a second until a chip is read; a "take a photo"
// file input for phones that refuse live video; guidance while nothing is found.
import { api } from './api.js';
import { register, t } from './i18n.js';
import { h } from './ui.js';

register({
  'zh-CN': {
    'scanner.closer': '请靠近一些，让门牌码占满取景框',
    'scanner.steady': '请拿稳手机，保持不动',
    'scanner.light': '光线太暗，请开灯或打开手电筒',
    'scanner.looking': '正在寻找门牌码…',
    'scanner.busy': '尝试太频繁，请稍等 {s} 秒',
    'scanner.nocamera': '无法打开相机。请点击“拍照识别”，拍一张门牌的照片。',
    'scanner.photo': '拍照识别',
    'scanner.nophoto': '照片中没有找到门牌码，请靠近门牌再拍一张。',
    'scanner.torch_on': '打开手电筒',
    'scanner.torch_off': '关闭手电筒',
    'scanner.video': '相机画面',
    'scanner.error': '识别出错：{why}',
  },
  en: {
    'scanner.closer': 'Move closer: fill the frame with the plate code',
    'scanner.steady': 'Hold the phone steady',
    'scanner.light': 'Too dark: turn on a light or the torch',
    'scanner.looking': 'Looking for the plate code…',
    'scanner.busy': 'Too many tries: wait {s} seconds',
    'scanner.nocamera': 'The camera cannot be opened. Tap "Take a photo" and photograph the plate.',
    'scanner.photo': 'Take a photo',
    'scanner.nophoto': 'No plate code in the photo: move closer and take another one.',
    'scanner.torch_on': 'Torch on',
    'scanner.torch_off': 'Torch off',
    'scanner.video': 'Camera view',
    'scanner.error': 'Could not read: {why}',
  },
});

const MAX_SIDE = 1280;
const REFUSED = ['revoked', 'expired', 'invalid', 'unknown_key'];

function frameBlob(source, w, h0) {
  const scale = Math.min(1, MAX_SIDE / Math.max(w, h0));
  const canvas = document.createElement('canvas');
  canvas.width = Math.max(1, Math.round(w * scale));
  canvas.height = Math.max(1, Math.round(h0 * scale));
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  ctx.drawImage(source, 0, 0, canvas.width, canvas.height);
  const px = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
  let sum = 0;
  let n = 0;
  for (let i = 0; i < px.length; i += 4 * 97) { sum += px[i] * 0.3 + px[i + 1] * 0.59 + px[i + 2] * 0.11; n += 1; }
  return new Promise((resolve) => canvas.toBlob((b) => resolve({ blob: b, luma: sum / Math.max(n, 1) }), 'image/jpeg', 0.85));
}

function refusedStatus(detail) {
  const m = /chip refused \((\w+)\)/.exec(detail || '');
  return m && REFUSED.includes(m[1]) ? m[1] : 'invalid';
}

/** One frame to the service: {chip, result} | {refused, detail} | {none} | {wait}. */
async function send(blob, purpose) {
  const fd = new FormData();
  fd.append('photo', blob, 'frame.jpg');
  try {
    if (purpose === 'household') {
      const page = await api('households/session/photo', { form: fd });
      return { chip: null, result: page };
    }
    const r = await api('scan', { form: fd });
    const ok = r.results.find((x) => x.status === 'ok');
    if (ok) return { chip: ok.chip, result: ok };
    const bad = r.results.find((x) => REFUSED.includes(x.status));
    return bad ? { refused: bad.status, detail: bad.error || bad.status } : { none: true };
  } catch (e) {
    if (e.status === 422 && (e.error === 'no_chip' || e.error === 'bad_input')) return { none: true };
    if (e.status === 403 && e.error === 'chip_refused') return { refused: refusedStatus(e.detail), detail: e.detail };
    if (e.status === 429) return { wait: e.retryAfter || 10 };
    throw e;
  }
}

export function openScanner(container, { onChip, onRefused, purpose = 'staff', interval } = {}) {
  const every = interval || 333; // 3 frames a second, residents and staff alike
  const video = h('video', { class: 'scanner-video', playsinline: true, muted: true, autoplay: true, 'aria-label': t('scanner.video') });
  const guide = h('p', { class: 'scanner-guide', id: 'scanner-guide', role: 'status', 'aria-live': 'polite' }, t('scanner.looking'));
  const torch = h('button', { type: 'button', class: 'hidden', id: 'scanner-torch', 'aria-pressed': 'false' }, t('scanner.torch_on'));
  const file = h('input', { type: 'file', accept: 'image/*', capture: 'environment', id: 'scanner-file', class: 'sr-only' });
  const photo = h('label', { for: 'scanner-file', class: 'button', id: 'scanner-photo' }, t('scanner.photo'));
  const box = h('div', { class: 'scanner' }, h('div', { class: 'scanner-frame' }, video), guide, h('div', { class: 'row' }, torch, photo, file));
  container.replaceChildren(box);
  let stream = null;
  let timer = 0;
  let busy = false;
  let done = false;
  let misses = 0;
  let torchOn = false;

  const say = (key, vars) => { guide.textContent = t(key, vars); };
  function close() {
    done = true;
    clearTimeout(timer);
    if (stream) stream.getTracks().forEach((tr) => tr.stop());
    stream = null;
  }
  function handle(out, luma) {
    if (done) return true;
    if (out.chip !== undefined) { close(); onChip && onChip(out.chip, out.result); return true; }
    if (out.refused) { close(); onRefused && onRefused(out.refused, out.detail); return true; }
    if (out.wait) { say('scanner.busy', { s: out.wait }); return false; }
    misses += 1;
    if (luma !== undefined && luma < 60) say('scanner.light');
    else say(misses % 2 ? 'scanner.closer' : 'scanner.steady');
    return false;
  }
  async function tick() {
    if (done) return;
    let wait = every;
    if (!busy && video.readyState >= 2 && video.videoWidth) {
      busy = true;
      try {
        const { blob, luma } = await frameBlob(video, video.videoWidth, video.videoHeight);
        const out = await send(blob, purpose);
        if (handle(out, luma)) return;
        if (out.wait) wait = out.wait * 1000;
      } catch (e) {
        say('scanner.error', { why: e.detail || e.message });
      } finally {
        busy = false;
      }
    }
    timer = setTimeout(tick, wait);
  }
  file.addEventListener('change', async () => {
    const f = file.files[0];
    if (!f) return;
    try {
      const bmp = await createImageBitmap(f);
      const { blob } = await frameBlob(bmp, bmp.width, bmp.height);
      const out = await send(blob, purpose);
      if (!out.chip && !out.refused && !out.wait) say('scanner.nophoto');
      else handle(out);
    } catch (e) {
      say('scanner.error', { why: e.detail || e.message });
    }
    file.value = '';
  });
  torch.addEventListener('click', async () => {
    const track = stream && stream.getVideoTracks()[0];
    if (!track) return;
    torchOn = !torchOn;
    try {
      await track.applyConstraints({ advanced: [{ torch: torchOn }] });
      torch.textContent = t(torchOn ? 'scanner.torch_off' : 'scanner.torch_on');
      torch.setAttribute('aria-pressed', String(torchOn));
    } catch (e) {
      torch.classList.add('hidden');
    }
  });
  (async () => {
    try {
      if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) throw new Error('no camera API');
      stream = await navigator.mediaDevices.getUserMedia({
        audio: false, video: { facingMode: { ideal: 'environment' }, width: { ideal: 1920 }, height: { ideal: 1080 } },
      });
      if (done) { close(); return; }
      video.srcObject = stream;
      await video.play().catch(() => {});
      const track = stream.getVideoTracks()[0];
      const caps = track && track.getCapabilities ? track.getCapabilities() : {};
      if (caps && caps.torch) torch.classList.remove('hidden');
      timer = setTimeout(tick, 300);
    } catch (e) {
      video.classList.add('hidden');
      say('scanner.nocamera');
    }
  })();
  return { close };
}
