/* global document, fetch */
// The host page's side of embedding: hand the svcauth component a function that returns a management
// token for the person signed in to the product. The product's backend makes it (here: POST
// /session/svcauth-token); the component calls it again before the token expires.
const accounts = document.querySelector('svcauth-accounts');
accounts.tokenFunction = async () => {
  const response = await fetch('/session/svcauth-token', { method: 'POST' });
  if (!response.ok) throw new Error(`the product refused a management token (${response.status})`);
  return response.json(); // { access_token, expires_in }
};
