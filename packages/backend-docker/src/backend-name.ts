/** The backend's name: in errors, labels and `--backend docker`. */
export const BACKEND_NAME = 'docker';
