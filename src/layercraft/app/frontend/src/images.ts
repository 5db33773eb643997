// Layer pixels, fetched once per image id and shared by the canvas and the layers panel.

const cache = new Map<string, Promise<HTMLImageElement>>();

export function imageUrl(projectId: string, imageId: string): string {
  return `/api/projects/${projectId}/images/${imageId}.png`;
}

export function loadImage(projectId: string, imageId: string): Promise<HTMLImageElement> {
  const url = imageUrl(projectId, imageId);
  let pending = cache.get(url);
  if (!pending) {
    pending = new Promise((resolve, reject) => {
      const img = new Image();
      img.onload = () => resolve(img);
      img.onerror = () => {
        cache.delete(url);
        reject(new Error(`layer image ${imageId} could not be loaded`));
      };
      img.src = url;
    });
    cache.set(url, pending);
  }
  return pending;
}
